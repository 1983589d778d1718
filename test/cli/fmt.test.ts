/**
 * `hookctl fmt` through the built CLI: canonical text (indentation, schema field order, secret
 * refs on one line), comments and document separators kept, idempotent, `--check` writes
 * nothing, and a file that cannot be formatted is left as it is.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { runCli } from '../helpers/cli.js';

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
});

function tree(files: Record<string, string>): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hookctl-fmt-'));
  dirs.push(dir);
  for (const [name, text] of Object.entries(files)) {
    fs.mkdirSync(path.dirname(path.join(dir, name)), { recursive: true });
    fs.writeFileSync(path.join(dir, name), text);
  }
  return dir;
}

const read = (dir: string, name: string) => fs.readFileSync(path.join(dir, name), 'utf8');

const MESSY = `# yaml-language-server: $schema=../schemas/manifest.schema.json
# Identity team manifest.
policy:
    -   name: Default access policy   # shown in the admin UI
        post_execution_webhooks: []
        # Runs before the request.
        pre_execution_webhooks:
          - direction: two_way
            connection_config_key: identity_service
            # Derived from the name if omitted.
            key: resolve_identity
            name: Resolve identity
        key: default_access_policy
connection:
- secrets:
     authorization: {env: IDENTITY_HOOK_TOKEN}
     url: "https://identity.example.com/hooks"   # literal, in git
  name: Identity service
  key: identity_service
  connection_type: https

  timeout_ms: 5000
  access: read
---
# The warehouse.
connection:
  - {key: warehouse, name: Warehouse, connection_type: https, secrets: {url: {env: WAREHOUSE_URL}, authorization: {file: warehouse.txt}}}
`;

const CANONICAL = `# yaml-language-server: $schema=../schemas/manifest.schema.json
# Identity team manifest.
connection:
  - key: identity_service
    name: Identity service
    connection_type: https
    access: read
    timeout_ms: 5000
    secrets:
      url: "https://identity.example.com/hooks" # literal, in git
      authorization: { env: IDENTITY_HOOK_TOKEN }
policy:
  - key: default_access_policy
    name: Default access policy # shown in the admin UI
    # Runs before the request.
    pre_execution_webhooks:
      # Derived from the name if omitted.
      - key: resolve_identity
        name: Resolve identity
        connection_config_key: identity_service
        direction: two_way
    post_execution_webhooks: []
---
# The warehouse.
connection:
  - key: warehouse
    name: Warehouse
    connection_type: https
    secrets:
      url: { env: WAREHOUSE_URL }
      authorization: { file: warehouse.txt }
`;

describe('hookctl fmt', () => {
  it('finds every example manifest canonical already', async () => {
    const r = await runCli(['fmt', '--check', '--verbose', 'examples'], { cwd: REPO });
    expect([r.code, r.stdout]).toEqual([0, '']);
    // Every manifest was read: only the scenarios were skipped.
    const notes = r.stderr.trim().split('\n');
    expect(notes.length).toBeGreaterThan(0);
    for (const note of notes) expect(note).toMatch(/^note: skipped examples\/(scenarios(-failing)?\/[\w-]+|quickstart\/identity-service\.scenario)\.yaml: a scenario file$/);
  });

  it('rewrites a messy manifest in canonical form, and a second run changes nothing', async () => {
    const dir = tree({ 'team.yaml': MESSY });
    const first = await runCli(['fmt'], { cwd: dir });
    expect([first.code, first.stdout, first.stderr]).toEqual([0, 'team.yaml\n', '']);
    expect(read(dir, 'team.yaml')).toBe(CANONICAL);

    const second = await runCli(['fmt', 'team.yaml'], { cwd: dir });
    expect([second.code, second.stdout]).toEqual([0, '']);
    expect(read(dir, 'team.yaml')).toBe(CANONICAL);
    // The canonical text still means what the messy one meant.
    expect((await runCli(['validate', '--format', 'json', 'team.yaml'], { cwd: dir })).code).toBe(0);
  });

  it('--check writes nothing, lists the files that would change and exits 2', async () => {
    const dir = tree({ 'a/messy.yaml': MESSY, 'a/canonical.yaml': CANONICAL, 'b/messy.yml': MESSY });
    const r = await runCli(['fmt', '--check', 'a', 'b'], { cwd: dir });
    expect([r.code, r.stdout]).toEqual([2, 'a/messy.yaml\nb/messy.yml\n']);
    expect(read(dir, 'a/messy.yaml')).toBe(MESSY);
    expect(read(dir, 'b/messy.yml')).toBe(MESSY);

    const clean = await runCli(['fmt', '--check', 'a/canonical.yaml'], { cwd: dir });
    expect([clean.code, clean.stdout]).toEqual([0, '']);
  });

  it('leaves a file with YAML errors untouched and exits 3 with the position', async () => {
    const broken = 'connection:\n  - key: a\n    name: [unclosed\n';
    const dir = tree({ 'broken.yaml': broken, 'messy.yaml': MESSY });
    for (const args of [['fmt', '--check'], ['fmt']]) {
      const r = await runCli(args, { cwd: dir });
      expect(r.code).toBe(3);
      expect(r.stderr).toMatch(/^broken\.yaml:\d+:\d+: error\[yaml-syntax\]/m);
      expect(read(dir, 'broken.yaml')).toBe(broken);
    }
    // The other files are still formatted.
    expect(read(dir, 'messy.yaml')).toBe(CANONICAL);
  });

  it('leaves a file alone when reordering would put an alias before its anchor', async () => {
    const aliased = 'policy:\n  - name: P\n    key: &k p\nconnection:\n  - key: *k\n    name: C\n';
    const dir = tree({ 'aliased.yaml': aliased });
    const r = await runCli(['fmt'], { cwd: dir });
    expect(r.code).toBe(3);
    expect(r.stderr).toContain('aliased.yaml: error[not-formattable]');
    expect(read(dir, 'aliased.yaml')).toBe(aliased);
  });

  it('skips scenario files (a note under --verbose) and refuses a YAML file of neither kind', async () => {
    const scenario = fs.readFileSync(path.join(REPO, 'examples/scenarios/two-way-continue.yaml'), 'utf8');
    const dir = tree({ 'scenario.yaml': scenario, 'messy.yaml': MESSY });
    const r = await runCli(['fmt', '--check', '--verbose'], { cwd: dir });
    expect([r.code, r.stdout, r.stderr]).toEqual([2, 'messy.yaml\n', 'note: skipped scenario.yaml: a scenario file\n']);
    expect((await runCli(['fmt'], { cwd: dir })).stderr).toBe('');
    expect(read(dir, 'scenario.yaml')).toBe(scenario);

    fs.writeFileSync(path.join(dir, 'compose.yaml'), 'services:\n  web: {}\n');
    const neither = await runCli(['fmt'], { cwd: dir });
    expect(neither.code).toBe(3);
    expect(neither.stderr).toContain("compose.yaml:1:1: error[unknown-file-kind]: the file is neither a manifest nor a scenario: its top-level keys are 'services'");
    expect(neither.stderr).toContain("a manifest has 'connection' and/or 'policy' at the top, a scenario has 'requests' or 'endpoints'");
  });
});
