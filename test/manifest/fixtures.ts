import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll } from 'vitest';

const made: string[] = [];
afterAll(() => {
  for (const dir of made) fs.rmSync(dir, { recursive: true, force: true });
});

/** A fresh temporary folder holding `files` (relative path → content); removed after the file's tests. */
export function tree(files: Record<string, string>): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hookctl-manifest-'));
  made.push(dir);
  for (const [name, content] of Object.entries(files)) {
    fs.mkdirSync(path.dirname(path.join(dir, name)), { recursive: true });
    fs.writeFileSync(path.join(dir, name), content);
  }
  return dir;
}

export const lines = (...ls: string[]) => `${ls.join('\n')}\n`;

/** A valid manifest; the line numbers in the comments are what position tests assert against. */
export const VALID = lines(
  'connection:', // 1
  '  - key: identity_service', // 2
  '    name: Identity service', // 3
  '    connection_type: https', // 4
  '    secrets:', // 5
  '      url: https://identity.example.com/hook', // 6
  '      authorization: { env: IDENTITY_TOKEN }', // 7
  'policy:', // 8
  '  - key: default_access_policy', // 9
  '    name: Default access policy', // 10
  '    pre_execution_webhooks:', // 11
  '      - key: wake_up', // 12
  '        name: Wake up', // 13
  '        connection_config_key: identity_service', // 14
  '        direction: one_way', // 15
);

/** VALID with line `n` (1-based) replaced by `replacement` (several lines allowed, or none). */
export function withLine(n: number, ...replacement: string[]): string {
  const ls = VALID.split('\n');
  ls.splice(n - 1, 1, ...replacement);
  return ls.join('\n');
}
