/**
 * Synthetic manifests: N policies × (10 pre + 10 post) webhooks over 100 connections, written
 * as one YAML file per 100 policies. Secrets come from one env var per connection family so the
 * generated set resolves without files.
 */
import fs from 'node:fs';
import path from 'node:path';

export const GENERATED_ENV = { BENCH_HOOK_TOKEN: 'Bearer bench-token' };

export interface GenerateOptions {
  policies: number;
  connections?: number;
  perList?: number;
  /** Change this share of policies (renamed webhook), for "1% change" runs. */
  changedShare?: number;
}

export function generateManifests(dir: string, opts: GenerateOptions): { files: number; webhooks: number } {
  const connections = opts.connections ?? 100;
  const perList = opts.perList ?? 10;
  fs.rmSync(dir, { recursive: true, force: true });
  fs.mkdirSync(dir, { recursive: true });
  const conn: string[] = ['connection:'];
  for (let c = 0; c < connections; c++) {
    conn.push(
      `  - key: conn_${c}`,
      `    name: Connection ${c}`,
      '    connection_type: https',
      '    secrets:',
      `      url: https://hooks-${c}.example.com/privacy`,
      '      authorization: { env: BENCH_HOOK_TOKEN }',
    );
  }
  fs.writeFileSync(path.join(dir, 'connections.yaml'), `${conn.join('\n')}\n`);
  const changedEvery = opts.changedShare ? Math.round(1 / opts.changedShare) : 0;
  let files = 1;
  for (let start = 0; start < opts.policies; start += 100) {
    const lines: string[] = ['policy:'];
    for (let p = start; p < Math.min(start + 100, opts.policies); p++) {
      const changed = changedEvery > 0 && p % changedEvery === 0;
      lines.push(`  - key: policy_${p}`, `    name: Policy ${p}`);
      for (const phase of ['pre', 'post'] as const) {
        lines.push(`    ${phase}_execution_webhooks:`);
        for (let w = 0; w < perList; w++) {
          const suffix = changed && w === 0 ? ' v2' : '';
          lines.push(
            `      - key: ${phase}_${p}_${w}`,
            `        name: ${phase} webhook ${p}-${w}${suffix}`,
            `        connection_config_key: conn_${(p * perList + w) % connections}`,
            `        direction: ${w % 2 === 0 ? 'one_way' : 'two_way'}`,
          );
        }
      }
    }
    fs.writeFileSync(path.join(dir, `policies-${String(start / 100).padStart(3, '0')}.yaml`), `${lines.join('\n')}\n`);
    files++;
  }
  return { files, webhooks: opts.policies * perList * 2 };
}
