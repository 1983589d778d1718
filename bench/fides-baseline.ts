/**
 * Baseline of the Fides area: the GETs a no-op plan issues (health, token, connection and policy
 * pages, both lists of every policy), as a plain fetch loop at the same parallelism, in its own process.
 */
const [base, clientId, clientSecret, parallelismArg] = process.argv.slice(2) as [string, string, string, string];
const parallelism = Number(parallelismArg);

async function getJson<T>(url: string, token?: string): Promise<T> {
  const res = await fetch(url, { headers: token ? { authorization: `Bearer ${token}` } : {} });
  if (res.status !== 200) throw new Error(`${url}: ${res.status}`);
  return (await res.json()) as T;
}

await getJson(`${base}/health`);
const tokenRes = await fetch(`${base}/api/v1/oauth/token`, {
  method: 'POST',
  headers: { 'content-type': 'application/x-www-form-urlencoded' },
  body: new URLSearchParams({ grant_type: 'client_credentials', client_id: clientId, client_secret: clientSecret }).toString(),
});
const { access_token: token } = (await tokenRes.json()) as { access_token: string };

async function all(path: string, size: number): Promise<{ key: string }[]> {
  const first = await getJson<{ items: { key: string }[]; total: number }>(`${base}${path}?page=1&size=${size}`, token);
  const items = [...first.items];
  for (let page = 2; page <= Math.ceil(first.total / size); page++) items.push(...(await getJson<{ items: { key: string }[] }>(`${base}${path}?page=${page}&size=${size}`, token)).items);
  return items;
}

const [, policies] = await Promise.all([all('/api/v1/connection', 100), all('/api/v1/dsr/policy', 100)]);
const lists = policies.flatMap((p) => ['pre_execution', 'post_execution'].map((phase) => `/api/v1/dsr/policy/${p.key}/webhook/${phase}`));
let next = 0;
let webhooks = 0;
await Promise.all(
  Array.from({ length: parallelism }, async () => {
    while (next < lists.length) {
      const list = lists[next++]!;
      webhooks += (await getJson<{ items: unknown[] }>(`${base}${list}?page=1&size=50`, token)).items.length;
    }
  }),
);
process.stdout.write(String(webhooks));
