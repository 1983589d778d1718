import path from 'node:path';
import { describe, expect, test } from 'vitest';
import type { Diagnostic } from '../../src/manifest/diagnostics.js';
import { loadManifests } from '../../src/manifest/load.js';
import { MAX_WEBHOOKS_PER_LIST } from '../../src/model/types.js';
import schema from '../../schemas/manifest.schema.json' with { type: 'json' };
import { lines, tree, VALID, withLine } from './fixtures.js';

function load(files: Record<string, string>) {
  const cwd = tree(files);
  return { cwd, ...loadManifests(['.'], { cwd }) };
}

/** The parts of a diagnostic a test pins down. */
const brief = (d: Diagnostic) => ({ code: d.code, file: d.file, line: d.line, column: d.column, path: d.path });

function onlyError(files: Record<string, string>): Diagnostic {
  const { diagnostics, state } = load(files);
  expect(diagnostics.map((d) => `${d.file}:${d.line}:${d.column} ${d.code}: ${d.message}`)).toHaveLength(1);
  expect(state).toBeNull();
  return diagnostics[0]!;
}

const webhookLines = (n: number, prefix = 'w') =>
  Array.from({ length: n }, (_, i) => [
    `      - key: ${prefix}_${i}`,
    `        name: ${prefix} ${i}`,
    '        connection_config_key: identity_service',
    '        direction: one_way',
  ]).flat();

describe('a valid manifest', () => {
  test('becomes the desired state, with defaults filled in and source spans', () => {
    const { state, diagnostics, cwd } = load({ 'hooks.yaml': VALID });
    expect(diagnostics).toEqual([]);
    expect(state).not.toBeNull();
    const [conn] = state!.connections;
    expect(conn).toMatchObject({
      key: 'identity_service',
      name: 'Identity service',
      connection_type: 'https',
      access: 'read',
      description: null,
      disabled: false,
      timeout_ms: null,
      secrets: {
        url: { value: 'https://identity.example.com/hook' },
        authorization: { ref: { env: 'IDENTITY_TOKEN' }, baseDir: cwd, root: cwd },
      },
    });
    expect(conn!.span).toMatchObject({ file: 'hooks.yaml', line: 2, column: 5, end_line: 7 });
    expect(state!.policies).toEqual([
      {
        key: 'default_access_policy',
        name: 'Default access policy',
        pre_execution_webhooks: [
          {
            key: 'wake_up',
            name: 'Wake up',
            connection_config_key: 'identity_service',
            direction: 'one_way',
          },
        ],
      },
    ]);
    // Spans are computed on first read (not enumerable, so copies never pay for them).
    expect(state!.policies[0]!.pre_execution_webhooks![0]!.span).toEqual({ file: 'hooks.yaml', line: 12, column: 9, end_line: 15, end_column: 27 });
    expect(state!.policies[0]!.span).toEqual({ file: 'hooks.yaml', line: 9, column: 5, end_line: 15, end_column: 27 });
    expect(state!.policies[0]).not.toHaveProperty('post_execution_webhooks');
    expect(state!.files).toEqual(['hooks.yaml']);
  });

  test('explicit fields win over defaults; [] is kept as a managed empty list', () => {
    const text = withLine(
      4,
      '    connection_type: https',
      '    access: write',
      '    description: wakes things',
      '    disabled: true',
      '    timeout_ms: 600000',
    ).replace('    pre_execution_webhooks:', '    post_execution_webhooks: []\n    pre_execution_webhooks:');
    const { state, diagnostics } = load({ 'a.yaml': text });
    expect(diagnostics).toEqual([]);
    expect(state!.connections[0]).toMatchObject({ access: 'write', description: 'wakes things', disabled: true, timeout_ms: 600000 });
    expect(state!.policies[0]!.post_execution_webhooks).toEqual([]);
    expect(state!.policies[0]!.pre_execution_webhooks).toHaveLength(1);
  });

  test('a missing key is derived from the name, like Fides', () => {
    const text = VALID.replace('  - key: identity_service\n    name: Identity service', '  - name: Identity Service')
      .replace('  - key: default_access_policy\n    name: Default access policy', '  - name: Default Access-Policy')
      .replace('      - key: wake_up\n        name: Wake up', '      - name: Wake up Snowflake DB');
    const { state, diagnostics } = load({ 'a.yaml': text });
    expect(diagnostics).toEqual([]);
    expect(state!.connections[0]!.key).toBe('identity_service');
    expect(state!.policies[0]!.key).toBe('default_access_policy');
    expect(state!.policies[0]!.pre_execution_webhooks![0]!.key).toBe('wake_up_snowflake_db');
  });

  test('a file ref keeps the manifest file folder as its base, wherever the file is', () => {
    const text = VALID.replace('url: https://identity.example.com/hook', 'url: { file: ../secrets/url.txt }');
    const { state, cwd, diagnostics } = load({ 'team/a/hooks.yaml': text });
    expect(diagnostics).toEqual([]);
    expect(state!.connections[0]!.secrets.url).toEqual({ ref: { file: '../secrets/url.txt' }, baseDir: path.join(cwd, 'team/a'), root: cwd });
  });

  test('declarations are collected across files and documents, in file then document order', () => {
    const connections = VALID.split('policy:')[0]!;
    const policies = `policy:${VALID.split('policy:')[1]!}`;
    const second = lines('policy:', '  - key: second', '    name: Second', '---', '# only a comment', '---', 'policy:', '  - key: third', '    name: Third');
    const { state, diagnostics } = load({ 'b/policies.yaml': `${policies}---\n${second}`, 'a.yaml': connections, 'empty.yaml': '', 'comments.yml': '# nothing here\n' });
    expect(diagnostics).toEqual([]);
    expect(state!.files).toEqual(['a.yaml', 'b/policies.yaml', 'comments.yml', 'empty.yaml']);
    expect(state!.policies.map((p) => p.key)).toEqual(['default_access_policy', 'second', 'third']);
    expect(state!.policies[2]!.span).toMatchObject({ file: 'b/policies.yaml', line: 17, column: 5 });
  });

  test('the digest covers file names and contents', () => {
    const digest = (files: Record<string, string>) => load(files).state!.digest;
    const base = digest({ 'a.yaml': VALID });
    expect(base).toMatch(/^[0-9a-f]{64}$/);
    expect(digest({ 'a.yaml': VALID })).toBe(base);
    expect(digest({ 'b.yaml': VALID })).not.toBe(base);
    expect(digest({ 'a.yaml': `${VALID}# a comment\n` })).not.toBe(base);
  });
});

describe('schema violations, each at its node', () => {
  test('unknown field: at the key, with did-you-mean and the allowed fields', () => {
    const d = onlyError({ 'a.yaml': withLine(3, '    nmae: Identity service', '    name: Identity service') });
    expect(brief(d)).toEqual({ code: 'unknown-field', file: 'a.yaml', line: 3, column: 5, path: 'connection[0].nmae' });
    expect(d).toMatchObject({ end_line: 3, end_column: 9 });
    expect(d.message).toBe("unknown field 'nmae'; did you mean 'name'?");
    expect(d.hint).toContain('connection_type');
  });

  test('unknown top-level key, with did-you-mean', () => {
    const d = onlyError({ 'a.yaml': VALID.replace(/^policy:/m, 'polcy:') });
    expect(brief(d)).toEqual({ code: 'unknown-field', file: 'a.yaml', line: 8, column: 1, path: 'polcy' });
    expect(d.message).toBe("unknown field 'polcy'; did you mean 'policy'?");
  });

  test('enum: lists allowed values and suggests the closest', () => {
    const d = onlyError({ 'a.yaml': withLine(15, '        direction: twoway') });
    expect(brief(d)).toEqual({ code: 'invalid-value', file: 'a.yaml', line: 15, column: 20, path: 'policy[0].pre_execution_webhooks[0].direction' });
    expect(d).toMatchObject({ end_line: 15, end_column: 26 });
    expect(d.message).toBe("direction must be one of 'one_way', 'two_way' (got 'twoway'); did you mean 'two_way'?");
  });

  test.each([
    ['connection_type: http', 4, "connection_type must be 'https' (got 'http')"],
    ['access: admin', 4, "access must be one of 'read', 'write' (got 'admin')"],
    ['timeout_ms: 0', 4, 'timeout_ms must be >= 1 (got 0)'],
    ['timeout_ms: 600001', 4, 'timeout_ms must be <= 600000 (got 600001)'],
    ['timeout_ms: 1.5', 4, 'timeout_ms must be an integer (got 1.5)'],
    ['disabled: "no"', 4, "disabled must be true or false (got 'no')"],
  ])('connection field %s', (field, line, message) => {
    const text = field.startsWith('connection_type') ? withLine(4, `    ${field}`) : withLine(4, '    connection_type: https', `    ${field}`);
    const d = onlyError({ 'a.yaml': text });
    expect(d.message).toContain(message);
    expect(d.line).toBe(field.startsWith('connection_type') ? line : line + 1);
  });

  test('a key must be a FidesKey', () => {
    const d = onlyError({ 'a.yaml': withLine(12, '      - key: wake up!') });
    expect(brief(d)).toMatchObject({ line: 12, column: 14, path: 'policy[0].pre_execution_webhooks[0].key' });
    expect(d.message).toBe("key must only contain alphanumeric characters, '.', '_' or '-'");
  });

  test('a number where a string belongs gets a hint to quote it', () => {
    const d = onlyError({ 'a.yaml': withLine(10, '    name: 2024') });
    expect(d.message).toBe('name must be a string (got 2024)');
    expect(d.hint).toMatch(/quote/);
  });

  test('missing required field: at the mapping that lacks it', () => {
    const d = onlyError({ 'a.yaml': withLine(3) });
    expect(brief(d)).toEqual({ code: 'missing-field', file: 'a.yaml', line: 2, column: 5, path: 'connection[0].name' });
    expect(d.message).toBe("missing required field 'name'");
  });

  test('missing required field of a nested mapping: at the key that holds the mapping', () => {
    const d = onlyError({ 'a.yaml': withLine(6) });
    expect(brief(d)).toEqual({ code: 'missing-field', file: 'a.yaml', line: 5, column: 5, path: 'connection[0].secrets.url' });
    expect(d).toMatchObject({ end_line: 5, end_column: 12 });
  });

  test('an inline authorization is rejected with a hint to use a ref', () => {
    const d = onlyError({ 'a.yaml': withLine(7, '      authorization: Bearer abc') });
    expect(brief(d)).toEqual({ code: 'invalid-type', file: 'a.yaml', line: 7, column: 22, path: 'connection[0].secrets.authorization' });
    expect(d.message).toMatch(/^authorization must be a secret ref/);
    expect(d.hint).toMatch(/\{ env: NAME \}.*\{ file: PATH \}/);
  });

  test.each([
    ['{ env: A, file: b }', 'must name one source'],
    ['{}', 'must name where the secret comes from'],
    ['{ env: "1BAD" }', 'must be an environment variable name'],
    ['{ file: "" }', 'file must not be empty'],
  ])('a malformed ref %s', (ref, message) => {
    const d = onlyError({ 'a.yaml': withLine(7, `      authorization: ${ref}`) });
    expect(d.line).toBe(7);
    expect(d.message).toContain(message);
  });

  test('a misspelt ref field gets did-you-mean', () => {
    const d = onlyError({ 'a.yaml': withLine(6, '      url: { evn: IDENTITY_URL }') });
    expect(brief(d)).toEqual({ code: 'unknown-field', file: 'a.yaml', line: 6, column: 14, path: 'connection[0].secrets.url.evn' });
    expect(d.message).toBe("unknown field 'evn'; did you mean 'env'?");
  });

  test('url may be a literal or a ref, nothing else', () => {
    expect(load({ 'a.yaml': withLine(6, '      url: { env: IDENTITY_URL }') }).diagnostics).toEqual([]);
    expect(load({ 'a.yaml': withLine(6, '      url: { file: url.txt }') }).diagnostics).toEqual([]);
    const d = onlyError({ 'a.yaml': withLine(6, '      url: [a]') });
    expect(d.message).toBe('url must be a URL or a secret ref: { env: NAME } or { file: PATH }');
  });

  test('a document must be a mapping', () => {
    const d = onlyError({ 'a.yaml': `${VALID}---\n- a list\n` });
    expect(brief(d)).toEqual({ code: 'invalid-type', file: 'a.yaml', line: 17, column: 1, path: '' });
    expect(d.message).toMatch(/^the document must be a mapping/);
    // A file with no manifest document at all is of neither kind (manifest nor scenario).
    expect(onlyError({ 'a.yaml': 'hello\n' }).code).toBe('unknown-file-kind');
  });

  test('top-level values must be lists', () => {
    const d = onlyError({ 'a.yaml': lines('connection:', 'policy: []') });
    expect(brief(d)).toEqual({ code: 'invalid-type', file: 'a.yaml', line: 1, column: 1, path: 'connection' });
    expect(d.message).toBe('connection must be a list (got null)');
  });

  test(`at most ${MAX_WEBHOOKS_PER_LIST} webhooks per list`, () => {
    expect(schema.definitions.webhookList.maxItems).toBe(MAX_WEBHOOKS_PER_LIST);
    const list = (n: number) => lines(...VALID.split('\n').slice(0, 11), ...webhookLines(n));
    expect(load({ 'a.yaml': list(MAX_WEBHOOKS_PER_LIST) }).diagnostics).toEqual([]);
    const d = onlyError({ 'a.yaml': list(MAX_WEBHOOKS_PER_LIST + 1) });
    expect(brief(d)).toEqual({ code: 'invalid-value', file: 'a.yaml', line: 12, column: 7, path: 'policy[0].pre_execution_webhooks' });
    expect(d.message).toBe('pre_execution_webhooks has 51 items; at most 50 are allowed');
  });

  test('a list written as null gets a hint about [] vs leaving it out', () => {
    const d = onlyError({ 'a.yaml': lines(...VALID.split('\n').slice(0, 10), '    post_execution_webhooks:') });
    expect(brief(d)).toMatchObject({ code: 'invalid-type', line: 11, column: 5 });
    expect(d.hint).toMatch(/\[\]/);
  });
});

describe('checks across the whole manifest set', () => {
  test('duplicate connection keys across files name both positions', () => {
    const d = onlyError({ 'a.yaml': VALID, 'b.yaml': VALID.split('policy:')[0]! });
    expect(brief(d)).toEqual({ code: 'duplicate-connection-key', file: 'b.yaml', line: 2, column: 10, path: 'connection[0].key' });
    expect(d.message).toBe("connection key 'identity_service' is already declared at a.yaml:2:10");
  });

  test('duplicate policy keys across documents of one file', () => {
    const d = onlyError({ 'a.yaml': `${VALID}---\n${lines('policy:', '  - key: default_access_policy', '    name: Other')}` });
    expect(brief(d)).toEqual({ code: 'duplicate-policy-key', file: 'a.yaml', line: 18, column: 10, path: 'policy[0].key' });
    expect(d.message).toBe("policy key 'default_access_policy' is already declared at a.yaml:9:10");
  });

  test('a derived key collides with an explicit one', () => {
    const text = `${VALID}${lines('  - name: Default access policy!')}`;
    const d = onlyError({ 'a.yaml': text.replace('    name: Default access policy\n', '    name: The default\n') });
    expect(brief(d)).toEqual({ code: 'duplicate-policy-key', file: 'a.yaml', line: 16, column: 11, path: 'policy[1].name' });
    expect(d.message).toBe("policy key 'default_access_policy' (derived from name 'Default access policy!') is already declared at a.yaml:9:10");
  });

  test('webhook keys are unique per phase across all policies; pre and post may share one', () => {
    const other = lines('  - key: other', '    name: Other', '    pre_execution_webhooks:', '      - key: wake_up', '        name: Wake up again', '        connection_config_key: identity_service', '        direction: one_way');
    const d = onlyError({ 'a.yaml': VALID + other });
    expect(brief(d)).toEqual({ code: 'duplicate-webhook-key', file: 'a.yaml', line: 19, column: 14, path: 'policy[1].pre_execution_webhooks[0].key' });
    expect(d.message).toBe("pre-execution webhook key 'wake_up' is already used at a.yaml:12:14 (policy 'default_access_policy')");

    const post = other.replace('pre_execution_webhooks', 'post_execution_webhooks').replace('Wake up again', 'Wake up');
    expect(load({ 'a.yaml': VALID + post }).diagnostics).toEqual([]);
  });

  test('webhook names are unique per phase across all policies', () => {
    const other = lines('  - key: other', '    name: Other', '    pre_execution_webhooks:', '      - key: wake_up_2', '        name: Wake up', '        connection_config_key: identity_service', '        direction: two_way');
    const d = onlyError({ 'a.yaml': VALID + other });
    expect(brief(d)).toEqual({ code: 'duplicate-webhook-name', file: 'a.yaml', line: 20, column: 15, path: 'policy[1].pre_execution_webhooks[0].name' });
    expect(d.message).toBe("pre-execution webhook name 'Wake up' is already used at a.yaml:12:14 (policy 'default_access_policy')");
  });

  test('a name that gives no key asks for an explicit key', () => {
    const d = onlyError({ 'a.yaml': withLine(12, '      - name: "!!!"').replace('        name: Wake up\n', '') });
    expect(brief(d)).toEqual({ code: 'invalid-derived-key', file: 'a.yaml', line: 12, column: 15, path: 'policy[0].pre_execution_webhooks[0].name' });
    expect(d.message).toBe("no key can be derived from name '!!!' (it gives '')");
    expect(d.hint).toMatch(/set `key`/);
  });

  test('connection_config_key must name a declared connection (in any file), with did-you-mean', () => {
    const d = onlyError({ 'a.yaml': withLine(14, '        connection_config_key: identity_servcie') });
    expect(brief(d)).toEqual({ code: 'unknown-connection', file: 'a.yaml', line: 14, column: 32, path: 'policy[0].pre_execution_webhooks[0].connection_config_key' });
    expect(d.message).toBe("connection_config_key 'identity_servcie' names no declared connection; did you mean 'identity_service'?");
    expect(d.hint).toBe('declared connections: identity_service');

    const [connections, policies] = VALID.split('policy:');
    expect(load({ 'z.yaml': connections!, 'a.yaml': `policy:${policies!}` }).diagnostics).toEqual([]);
  });

  test('an unknown connection is not claimed while another file failed to parse', () => {
    const [connections, policies] = VALID.split('policy:');
    const { diagnostics } = load({ 'a.yaml': `policy:${policies!}`, 'b.yaml': `${connections!}  bad: [\n` });
    expect(diagnostics.length).toBeGreaterThan(0);
    expect(diagnostics.every((d) => d.code === 'yaml-syntax' && d.file === 'b.yaml')).toBe(true);
  });

  test.each([
    ['http://example.com/hook', false],
    ['ftp://example.com/hook', false],
    ['not a url', false],
    ['http://127.0.0.1:8787/hook', true],
    ['http://localhost:8080/hook', true],
    ['http://[::1]/hook', true],
    ['https://example.com/hook', true],
  ])('literal url %s allowed: %s', (url, ok) => {
    const { diagnostics } = load({ 'a.yaml': withLine(6, `      url: ${url}`) });
    if (ok) expect(diagnostics).toEqual([]);
    else expect(diagnostics.map(brief)).toEqual([{ code: 'invalid-url', file: 'a.yaml', line: 6, column: 12, path: 'connection[0].secrets.url' }]);
  });
});

describe('YAML problems', () => {
  test('syntax errors are positioned', () => {
    const d = onlyError({ 'a.yaml': withLine(15, '        direction: one_way: two_way') });
    expect(d).toMatchObject({ code: 'yaml-syntax', file: 'a.yaml', line: 15, column: 20, message: 'Nested mappings are not allowed in compact mappings' });
  });

  test('a duplicate mapping key names the first one', () => {
    const d = onlyError({ 'a.yaml': withLine(10, '    name: Default access policy', '    name: Again') });
    expect(brief(d)).toEqual({ code: 'duplicate-key', file: 'a.yaml', line: 11, column: 5, path: 'policy[0].name' });
    expect(d.message).toBe("duplicate key 'name' (first at line 10, column 5)");
  });

  test('a path that does not exist is an error; a folder without YAML a warning', () => {
    const cwd = tree({ 'a.yaml': VALID, 'empty/readme.txt': 'x' });
    const { diagnostics, state } = loadManifests(['a.yaml', 'nope', 'empty'], { cwd });
    expect(diagnostics.map((d) => [d.severity, d.code, d.file, d.line])).toEqual([
      ['error', 'missing-path', 'nope', 0],
      ['warning', 'no-yaml-files', 'empty', 0],
    ]);
    expect(state).toBeNull();
    expect(loadManifests(['a.yaml', 'empty'], { cwd }).state).not.toBeNull();
  });
});

test('every problem is reported at once, sorted by file and position', () => {
  const a = withLine(15, '        direction: twoway').replace('    name: Identity service', '    nmae: Identity service');
  const b = lines('policy:', '  - key: default_access_policy', '    name: Dup', '    pre_execution_webhooks:', '      - name: Late', '        connection_config_key: nowhere', '        direction: one_way', 'extra: 1');
  const { diagnostics, state } = load({ 'b.yaml': b, 'a.yaml': a });
  expect(state).toBeNull();
  expect(diagnostics.map((d) => `${d.file}:${d.line}:${d.column} ${d.code}`)).toEqual([
    'a.yaml:2:5 missing-field',
    'a.yaml:3:5 unknown-field',
    'a.yaml:15:20 invalid-value',
    'b.yaml:2:10 duplicate-policy-key',
    'b.yaml:6:32 unknown-connection',
    'b.yaml:8:1 unknown-field',
  ]);
});

describe('the examples', () => {
  const repo = path.resolve(import.meta.dirname, '../..');

  test('quickstart validates clean', () => {
    const { state, diagnostics } = loadManifests(['examples/quickstart'], { cwd: repo });
    expect(diagnostics).toEqual([]);
    expect(state!.connections.map((c) => c.secrets)).toEqual([
      {
        url: { ref: { file: 'secrets/identity-url.txt' }, baseDir: path.join(repo, 'examples/quickstart'), root: path.join(repo, 'examples/quickstart') },
        authorization: { ref: { file: 'secrets/identity-token.txt' }, baseDir: path.join(repo, 'examples/quickstart'), root: path.join(repo, 'examples/quickstart') },
      },
    ]);
    const [policy] = state!.policies;
    expect(policy!.pre_execution_webhooks!.map((w) => w.direction)).toEqual(['two_way']);
    expect(policy!.post_execution_webhooks!.map((w) => w.direction)).toEqual(['one_way']);
  });

  test('multi-team validates clean', () => {
    const { state, diagnostics } = loadManifests(['examples/multi-team'], { cwd: repo });
    expect(diagnostics).toEqual([]);
    expect(state!.files).toEqual(['examples/multi-team/connections.yaml', 'examples/multi-team/teams/data-platform.yaml', 'examples/multi-team/teams/growth.yaml']);
    const byKey = new Map(state!.policies.map((p) => [p.key, p]));
    expect(byKey.get('newsletter_erasure')?.pre_execution_webhooks?.[0]?.key).toBe('newsletter_wake_warehouse');
    expect(byKey.get('newsletter_erasure')).not.toHaveProperty('post_execution_webhooks');
    expect(byKey.get('legacy_access_policy')?.pre_execution_webhooks).toEqual([]);
  });
});

test('the manifest schema is valid draft-07 that editors can use', async () => {
  const { Ajv } = await import('ajv');
  const ajv = new Ajv({ strict: false });
  expect(ajv.validateSchema(schema), JSON.stringify(ajv.errors)).toBe(true);
  expect(schema.$schema).toBe('http://json-schema.org/draft-07/schema#');
  expect(schema.$id).toMatch(/^https:\/\/.+manifest\.schema\.json$/);
  for (const def of ['connection', 'policy', 'webhook', 'secretRef']) {
    expect((schema.definitions as Record<string, { title?: string }>)[def]?.title, def).toBeTruthy();
  }
});
