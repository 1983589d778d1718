import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { setupServer } from 'msw/node';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { MALFORMED_BODY, simulateEndpoints, tamperToken, type EndpointSimulation } from '../../harness/handlers.js';
import { Journal } from '../../harness/journal.js';
import type { RequestView } from '../../harness/target.js';
import { scenariosFrom } from './helpers.js';

// A real loopback resume endpoint: a token works once, `expired.*` tokens are expired, others are refused.
const resumesReceived: { url: string; authorization: string | undefined; body: string }[] = [];
const used = new Set<string>();
const resumeServer = http.createServer((req, res) => {
  let body = '';
  req.on('data', (c) => (body += String(c)));
  req.on('end', () => {
    resumesReceived.push({ url: req.url ?? '', authorization: req.headers.authorization, body });
    const token = (req.headers.authorization ?? '').replace(/^Bearer /, '');
    const [status, detail] = token.startsWith('expired.')
      ? [403, 'Webhook token expired']
      : token === VALID_TOKEN && !used.has(token)
        ? [200, null]
        : token === VALID_TOKEN
          ? [400, 'Invalid resume request']
          : [403, 'Not Authorized for this action'];
    if (status === 200) used.add(token);
    res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(detail ? { detail } : { status: 'in_processing' }));
  });
});
const VALID_TOKEN = 'hdr.key.iv.Y2lwaGVydGV4dC1vZi10aGUtdG9rZW4.tag';
let callbackBase = '';
const statuses = new Map<string, string>();
const stubTarget = {
  get callbackBase() {
    return callbackBase;
  },
  get: async (id: string): Promise<RequestView> => ({ id, status: statuses.get(id) ?? 'paused', identity: { email: null, phone_number: null }, failure_reason: null, timeline: [] }),
  mintExpiredToken: async (token: string) => `expired.${token}`,
};

const server = setupServer();
let simulation: EndpointSimulation | undefined;
beforeAll(async () => {
  await new Promise<void>((resolve) => resumeServer.listen(0, '127.0.0.1', resolve));
  callbackBase = `http://127.0.0.1:${(resumeServer.address() as AddressInfo).port}`;
  server.listen({ onUnhandledRequest: 'error' });
});
afterEach(() => {
  simulation?.dispose();
  server.resetHandlers();
  resumesReceived.length = 0;
  used.clear();
  statuses.clear();
});
afterAll(async () => {
  server.close();
  await new Promise((resolve) => resumeServer.close(resolve));
});

async function install(yaml: string): Promise<{ journal: Journal; sim: EndpointSimulation }> {
  const [scenario] = await scenariosFrom(`name: t\nrequests: [{ policy_key: p, identity: { email: a@example.com } }]\n${yaml}`);
  const journal = new Journal();
  simulation = simulateEndpoints(scenario!, { journal, target: stubTarget, pollIntervalMs: 5 });
  server.resetHandlers(...simulation.handlers);
  return { journal, sim: simulation };
}

const post = (url: string, body: unknown = { privacy_request_id: 'pri_1' }, init: RequestInit = {}) =>
  fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', ...init.headers }, body: JSON.stringify(body), signal: init.signal });

async function until(condition: () => boolean, ms = 2000): Promise<void> {
  const end = Date.now() + ms;
  while (!condition()) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 5));
  }
}

describe('simulated endpoints', () => {
  it('answer with the declared status, JSON body and headers, and journal the call', async () => {
    const { journal } = await install(`endpoints:
  - url: https://hooks.example.com/a
    respond: { status: 201, body: { halt: false }, headers: { X-Trace: abc } }
`);
    const res = await post('https://hooks.example.com/a', { privacy_request_id: 'pri_7', callback_type: 'pre' }, { headers: { Authorization: 'secret', 'X-Mixed-Case': 'v' } });
    expect(res.status).toBe(201);
    expect(res.headers.get('x-trace')).toBe('abc');
    expect(res.headers.get('content-type')).toBe('application/json');
    expect(await res.json()).toEqual({ halt: false });
    expect(journal.calls).toHaveLength(1);
    expect(journal.calls[0]).toMatchObject({
      seq: 1,
      url: 'https://hooks.example.com/a',
      method: 'POST',
      headers: { authorization: 'secret', 'x-mixed-case': 'v', 'content-type': 'application/json' },
      body: { privacy_request_id: 'pri_7', callback_type: 'pre' },
      privacy_request_id: 'pri_7',
      endpoint: 0,
      step: null,
      answer: '201',
      aborted_after_ms: null,
    });
  });

  it('send a string body as text, no body when none is given, and 200 for an endpoint without respond', async () => {
    await install(`endpoints:
  - { url: https://hooks.example.com/text, respond: { status: 200, body: "plain words" } }
  - { url: https://hooks.example.com/empty, respond: { status: 204 } }
  - { url: https://hooks.example.com/bare }
`);
    const text = await post('https://hooks.example.com/text');
    expect(text.headers.get('content-type')).toMatch(/^text\/plain/);
    expect(await text.text()).toBe('plain words');
    const empty = await post('https://hooks.example.com/empty');
    expect([empty.status, await empty.text()]).toEqual([204, '']);
    const bare = await post('https://hooks.example.com/bare');
    expect([bare.status, await bare.text()]).toEqual([200, '']);
  });

  it('wait delay_ms before answering', async () => {
    await install('endpoints: [{ url: https://slow.example.com/h, respond: { status: 200, delay_ms: 120 } }]\n');
    const started = performance.now();
    await post('https://slow.example.com/h');
    expect(performance.now() - started).toBeGreaterThanOrEqual(115);
  });

  it('answer call n with times[n], then with the endpoint’s own answer', async () => {
    const { journal } = await install(`endpoints:
  - url: https://hooks.example.com/t
    respond: { status: 202 }
    times:
      - respond: { status: 500 }
      - fault: network_error
      - {}
`);
    const outcomes: (number | string)[] = [];
    for (let i = 0; i < 5; i++) outcomes.push(await post('https://hooks.example.com/t').then((r) => r.status, () => 'network error'));
    expect(outcomes).toEqual([500, 'network error', 202, 202, 202]);
    expect(journal.calls.map((c) => [c.step, c.answer])).toEqual([[0, '500'], [1, 'fault: network_error'], [2, '202'], [null, '202'], [null, '202']]);
  });

  it('fault: timeout holds the call until the caller aborts, then ends the handler', async () => {
    const { journal } = await install('endpoints: [{ url: https://hang.example.com/h, fault: timeout }]\n');
    const started = performance.now();
    await expect(post('https://hang.example.com/h', {}, { signal: AbortSignal.timeout(80) })).rejects.toThrow(/timeout|abort/i);
    expect(performance.now() - started).toBeGreaterThanOrEqual(75);
    // The handler noticed the abort and returned: nothing is left hanging.
    await until(() => journal.calls[0]!.aborted_after_ms !== null);
    expect(journal.calls[0]).toMatchObject({ answer: 'fault: timeout' });
    expect(journal.calls[0]!.aborted_after_ms).toBeGreaterThanOrEqual(70);
  });

  it('a call without its own deadline is released when the simulation is disposed', async () => {
    const { journal, sim } = await install('endpoints: [{ url: https://hang.example.com/h, fault: timeout }]\n');
    const call = post('https://hang.example.com/h');
    await until(() => journal.calls.length === 1);
    sim.dispose();
    await expect(call).rejects.toThrow();
    expect(journal.calls[0]!.aborted_after_ms).not.toBeNull();
  });

  it('a delayed answer the caller gave up on is not delivered and schedules no resume', async () => {
    const { journal } = await install(`endpoints:
  - url: https://slow.example.com/h
    respond: { status: 200, delay_ms: 2000 }
    then: { resume: {} }
`);
    await expect(post('https://slow.example.com/h', {}, { signal: AbortSignal.timeout(50), headers: { 'reply-to': '/x', 'reply-to-token': VALID_TOKEN } })).rejects.toThrow();
    await until(() => journal.calls[0]!.aborted_after_ms !== null);
    expect(journal.calls[0]!.answer).toBe('200 (not delivered)');
    expect(journal.resumes).toEqual([]);
  });

  it('fault: network_error fails the call; status answers respond; malformed_body answers JSON that does not parse', async () => {
    await install(`endpoints:
  - { url: https://down.example.com/h, fault: network_error }
  - { url: https://err.example.com/h, fault: status, respond: { status: 503, body: { detail: busy } } }
  - { url: https://bad.example.com/h, fault: malformed_body }
  - { url: https://bad.example.com/h2, fault: malformed_body, respond: { status: 202 } }
`);
    await expect(post('https://down.example.com/h')).rejects.toThrow(TypeError);
    const err = await post('https://err.example.com/h');
    expect([err.status, await err.json()]).toEqual([503, { detail: 'busy' }]);
    const bad = await post('https://bad.example.com/h');
    expect(bad.status).toBe(200);
    expect(bad.headers.get('content-type')).toBe('application/json');
    const text = await bad.text();
    expect(text).toBe(MALFORMED_BODY);
    expect(() => JSON.parse(text)).toThrow();
    expect((await post('https://bad.example.com/h2')).status).toBe(202);
  });

  it('match method and the whole URL, query included', async () => {
    const { journal } = await install(`strict: false
endpoints:
  - { url: "https://hooks.example.com/q?tenant=1", respond: { status: 201 } }
  - { url: https://hooks.example.com/put, method: PUT, respond: { status: 202 } }
`);
    expect((await post('https://hooks.example.com/q?tenant=1')).status).toBe(201);
    expect(await (await post('https://hooks.example.com/q?tenant=2')).json()).toEqual({});
    expect((await fetch('https://hooks.example.com/put', { method: 'PUT' })).status).toBe(202);
    expect((await post('https://hooks.example.com/put')).status).toBe(200);
    expect(journal.calls.map((c) => c.endpoint)).toEqual([0, null, 1, null]);
  });

  it('strict: an undeclared endpoint fails like an unreachable host and is journalled; non-strict answers {}', async () => {
    const strict = await install('endpoints: []\n');
    await expect(post('https://nobody.example.com/h', { privacy_request_id: 'pri_9' })).rejects.toThrow(TypeError);
    expect(strict.journal.calls[0]).toMatchObject({ endpoint: null, answer: 'undeclared', privacy_request_id: 'pri_9' });

    simulation!.dispose();
    const lenient = await install('strict: false\nendpoints: []\n');
    const res = await post('https://nobody.example.com/h');
    expect([res.status, await res.json()]).toEqual([200, {}]);
    expect(lenient.journal.calls[0]).toMatchObject({ endpoint: null, answer: 'undeclared' });
  });

  it('let calls to the loopback callback server through to the real server', async () => {
    const { journal } = await install('endpoints: []\n');
    const res = await fetch(`${callbackBase}/privacy-request/pri_1/resume`, { method: 'POST', headers: { authorization: `Bearer ${VALID_TOKEN}` }, body: '{}' });
    expect(res.status).toBe(200);
    expect(resumesReceived).toHaveLength(1);
    expect(journal.calls).toEqual([]);
  });
});

describe('resume callbacks', () => {
  const halting = (token: string, extra = '') => `endpoints:
  - url: https://identity.example.com/h
    respond: { status: 200, body: { halt: true } }
    then: { resume: { after_ms: 30, token: ${token}, body: { derived_identity: { phone_number: "+1555" } } } }
${extra}`;
  const halt = (token = VALID_TOKEN) =>
    post('https://identity.example.com/h', { privacy_request_id: 'pri_1' }, { headers: { 'reply-to': '/privacy-request/pri_1/resume', 'reply-to-token': token } });

  it('valid: POST reply-to on the callback base with the bearer token and body, after after_ms', async () => {
    const { journal, sim } = await install(halting('valid'));
    const started = performance.now();
    await halt();
    expect(sim.pendingResumes('pri_1')).toBe(1);
    await until(() => journal.resumes.length === 1);
    expect(performance.now() - started).toBeGreaterThanOrEqual(28);
    expect(sim.pendingResumes('pri_1')).toBe(0);
    expect(resumesReceived).toEqual([{ url: '/privacy-request/pri_1/resume', authorization: `Bearer ${VALID_TOKEN}`, body: '{"derived_identity":{"phone_number":"+1555"}}' }]);
    expect(journal.resumes[0]).toMatchObject({ call_seq: 1, privacy_request_id: 'pri_1', token: 'valid', status: 200, body: { status: 'in_processing' }, first: null, error: null });
  });

  it('waits until the request has stopped processing before resuming', async () => {
    statuses.set('pri_1', 'in_processing');
    const { journal } = await install(halting('valid'));
    await halt();
    await new Promise((r) => setTimeout(r, 120));
    expect(resumesReceived).toEqual([]);
    statuses.set('pri_1', 'paused');
    await until(() => journal.resumes.length === 1);
    expect(journal.resumes[0]!.status).toBe(200);
  });

  it('expired: sends a token minted expired by the target', async () => {
    const { journal } = await install(halting('expired'));
    await halt();
    await until(() => journal.resumes.length === 1);
    expect(resumesReceived[0]!.authorization).toBe(`Bearer expired.${VALID_TOKEN}`);
    expect(journal.resumes[0]).toMatchObject({ token: 'expired', status: 403, body: { detail: 'Webhook token expired' } });
  });

  it('tampered: changes the ciphertext segment of the token', async () => {
    const { journal } = await install(halting('tampered'));
    await halt();
    await until(() => journal.resumes.length === 1);
    const sent = resumesReceived[0]!.authorization!.replace('Bearer ', '');
    expect(sent).not.toBe(VALID_TOKEN);
    expect(sent.split('.').filter((segment, i) => segment !== VALID_TOKEN.split('.')[i])).toHaveLength(1);
    expect(journal.resumes[0]).toMatchObject({ token: 'tampered', status: 403 });
  });

  it('reuse: resumes once, sends the same token again, and records the second answer', async () => {
    const { journal } = await install(halting('reuse'));
    await halt();
    await until(() => journal.resumes.length === 1);
    expect(resumesReceived.map((r) => r.authorization)).toEqual([`Bearer ${VALID_TOKEN}`, `Bearer ${VALID_TOKEN}`]);
    expect(journal.resumes[0]).toMatchObject({ token: 'reuse', status: 400, body: { detail: 'Invalid resume request' }, first: { status: 200 } });
  });

  it('records why a resume could not be sent (no reply-to headers on the call)', async () => {
    const { journal } = await install(halting('valid'));
    await post('https://identity.example.com/h', { privacy_request_id: 'pri_1' });
    await until(() => journal.resumes.length === 1);
    expect(journal.resumes[0]).toMatchObject({ status: null, error: expect.stringMatching(/no reply-to/) });
    expect(resumesReceived).toEqual([]);
  });

  it('a scheduled resume is cancelled, and says so, when the simulation is disposed', async () => {
    const { journal, sim } = await install(halting('valid').replace('after_ms: 30', 'after_ms: 5000'));
    await halt();
    sim.dispose();
    await until(() => journal.resumes.length === 1);
    expect(journal.resumes[0]).toMatchObject({ status: null, error: 'not sent: the scenario ended first' });
    expect(sim.pendingResumes('pri_1')).toBe(0);
  });

  it('times: a step can add `then` to the endpoint’s own answer', async () => {
    const { journal } = await install(`endpoints:
  - url: https://identity.example.com/h
    respond: { status: 200, body: { halt: true } }
    times:
      - then: { resume: {} }
`);
    await halt();
    await until(() => journal.resumes.length === 1);
    await halt();
    await new Promise((r) => setTimeout(r, 50));
    expect(journal.resumes).toHaveLength(1);
    expect(journal.calls.map((c) => [c.step, c.answer])).toEqual([[0, '200'], [null, '200']]);
  });
});

describe('tamperToken', () => {
  it('changes one character in the middle of the 4th segment of a JWE and nothing else', () => {
    const jwe = 'eyJhbGciOiJkaXIifQ..aXYtaXYtaXY.Y2lwaGVydGV4dA.dGFn';
    const tampered = tamperToken(jwe);
    const [a, b] = [jwe.split('.'), tampered.split('.')];
    expect(b.length).toBe(5);
    expect(b.filter((s, i) => s !== a[i])).toHaveLength(1);
    expect(b[3]).not.toBe(a[3]);
    expect(b[3]!.length).toBe(a[3]!.length);
    expect(b[3]!.at(-1)).toBe(a[3]!.at(-1));
  });
});
