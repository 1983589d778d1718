import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, test } from 'vitest';
import { HookctlError } from '../../src/errors.js';
import { loadManifests } from '../../src/manifest/load.js';
import {
  checkWebhookUrl,
  describeSecretInput,
  isReservedEnvName,
  resolveConnectionSecrets,
  resolveSecretInput,
  secretRefProblem,
} from '../../src/manifest/secrets.js';
import { checkAuthorization } from '../../src/model/secrets.js';
import type { DesiredConnection, SecretInput } from '../../src/manifest/types.js';
import { tree } from './fixtures.js';

function thrown(fn: () => unknown): HookctlError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(HookctlError);
    return err as HookctlError;
  }
  throw new Error('expected a HookctlError');
}

const connection = (url: SecretInput, authorization: SecretInput): DesiredConnection => ({
  key: 'identity_service',
  name: 'Identity service',
  connection_type: 'https',
  access: 'read',
  description: null,
  disabled: false,
  timeout_ms: null,
  secrets: { url, authorization },
  span: { file: 'a.yaml', line: 2, column: 5, end_line: 7, end_column: 40 },
});

test('describeSecretInput says how, never what', () => {
  expect(describeSecretInput({ value: 'https://x.example.com' })).toBe('literal');
  expect(describeSecretInput({ ref: { env: 'IDENTITY_HOOK_TOKEN' }, baseDir: '/m', root: '/m' })).toBe('env IDENTITY_HOOK_TOKEN');
  expect(describeSecretInput({ ref: { file: 'secrets/token.txt' }, baseDir: '/m', root: '/m' })).toBe('file secrets/token.txt');
});

describe('resolveSecretInput', () => {
  test('env refs read the given environment', () => {
    expect(resolveSecretInput({ ref: { env: 'TOKEN' }, baseDir: '/m', root: '/m' }, { TOKEN: 'Bearer abc' })).toBe('Bearer abc');
  });

  test('an unset env ref names the ref and where it is used', () => {
    const conn = connection({ value: 'https://x.example.com' }, { ref: { env: 'IDENTITY_HOOK_TOKEN' }, baseDir: '/m', root: '/m' });
    const err = thrown(() => resolveConnectionSecrets(conn.key, conn.secrets, { OTHER: 'Bearer other-secret' }));
    expect(err.exitCode).toBe(1);
    expect(err.message).toBe("secret ref env IDENTITY_HOOK_TOKEN (connection 'identity_service', secrets.authorization) is not set");
    expect(err.hint).toContain('IDENTITY_HOOK_TOKEN');
    expect(`${err.message} ${err.hint}`).not.toContain('other-secret');
  });

  test('an empty env value is an error too', () => {
    expect(thrown(() => resolveSecretInput({ ref: { env: 'T' }, baseDir: '/m', root: '/m' }, { T: '' })).message).toBe('secret ref env T is set but empty');
  });

  test('file refs are relative to the manifest folder; trailing newlines trimmed, inner ones kept', () => {
    const dir = tree({ 'team/secrets/token.txt': 'Bearer abc\n', 'team/crlf.txt': 'line1\nline2\r\n\r\n' });
    const base = path.join(dir, 'team');
    expect(resolveSecretInput({ ref: { file: 'secrets/token.txt' }, baseDir: base, root: dir }, {})).toBe('Bearer abc');
    expect(resolveSecretInput({ ref: { file: 'crlf.txt' }, baseDir: base, root: dir }, {})).toBe('line1\nline2');
  });

  test('an unreadable file names the file, exit 1', () => {
    const dir = tree({});
    const err = thrown(() => resolveSecretInput({ ref: { file: 'nope.txt' }, baseDir: dir, root: dir }, {}, "connection 'c', secrets.url"));
    expect(err.exitCode).toBe(1);
    expect(err.message).toBe(`secret ref file nope.txt (connection 'c', secrets.url): ${path.join(dir, 'nope.txt')} does not exist`);
  });

  test('secrets resolved from a loaded manifest, file refs relative to that manifest', () => {
    const cwd = tree({
      'deploy/hooks.yaml': [
        'connection:',
        '  - key: c',
        '    name: C',
        '    connection_type: https',
        '    secrets:',
        '      url: { file: ../local/url.txt }',
        '      authorization: { env: C_TOKEN }',
      ].join('\n'),
      'local/url.txt': 'http://127.0.0.1:8787/hook\n',
    });
    // Named as `.`, the root holds local/; named as `deploy`, the ref leaves it (unless allowed).
    const { state } = loadManifests(['.'], { cwd });
    expect(resolveConnectionSecrets(state!.connections[0]!.key, state!.connections[0]!.secrets, { C_TOKEN: 'Bearer t' })).toEqual({ url: 'http://127.0.0.1:8787/hook', authorization: 'Bearer t' });
    const narrow = loadManifests(['deploy'], { cwd });
    expect(narrow.state).toBeNull();
    expect(narrow.diagnostics).toEqual([
      expect.objectContaining({ code: 'secret-file-outside-root', file: 'deploy/hooks.yaml', line: 6, column: 12, path: 'connection[0].secrets.url' }),
    ]);
    const allowed = loadManifests(['deploy'], { cwd, secretsDirs: [path.join(cwd, 'local')] });
    expect(allowed.diagnostics).toEqual([]);
    expect(resolveConnectionSecrets('c', allowed.state!.connections[0]!.secrets, { C_TOKEN: 'Bearer t' }, [path.join(cwd, 'local')]).url).toBe('http://127.0.0.1:8787/hook');
  });
});

describe('the rules of refs and values', () => {
  test.each([
    ['HOOKCTL_MASTER_KEY', true],
    ['HOOKCTL_DATABASE_URL', true],
    ['hookctl_master_key', true],
    ['HOOKCTL_SECRETS_DIR', true],
    ['HOOKCTL_SECRET_BILLING_AUTHORIZATION', false],
    ['HOOKCTL', false],
    ['MY_HOOKCTL_TOKEN', false],
  ])('isReservedEnvName(%s) is %s', (name, reserved) => {
    expect(isReservedEnvName(name)).toBe(reserved);
  });

  test('a file ref is confined lexically as written, and again (symlinks followed) when read', () => {
    const dir = tree({ 'root/in.txt': 'Bearer in', 'elsewhere/out.txt': 'Bearer out' });
    const root = path.join(dir, 'root');
    const ref = (file: string) => ({ ref: { file }, baseDir: root, root });
    expect(secretRefProblem(ref('in.txt'), [])).toBeNull();
    expect(secretRefProblem(ref('../elsewhere/out.txt'), [])?.code).toBe('secret-file-outside-root');
    expect(secretRefProblem(ref('../elsewhere/out.txt'), [path.join(dir, 'elsewhere')])).toBeNull();
    expect(secretRefProblem(ref('../rootlike/x'), [])?.code).toBe('secret-file-outside-root');
    expect(thrown(() => resolveSecretInput(ref('../elsewhere/out.txt'), {})).exitCode).toBe(3);
    fs.symlinkSync(path.join(dir, 'elsewhere/out.txt'), path.join(root, 'link'));
    const viaLink = thrown(() => resolveSecretInput(ref('link'), {}));
    expect([viaLink.exitCode, viaLink.message]).toEqual([1, expect.stringContaining('through a symlink')]);
    expect(resolveSecretInput(ref('link'), {}, undefined, [path.join(dir, 'elsewhere')])).toBe('Bearer out');
  });

  test.each([
    ['Bearer abc', null],
    ['Bearer a\tb', null],
    ['Bearer a\r\nX: y', /line break/],
    ['Bearer a\n', /line break/],
    ['Bearer a\u0000', /NUL/],
  ])('checkAuthorization(%j)', (value, expected) => {
    const reason = checkAuthorization(value);
    if (expected === null) expect(reason).toBeNull();
    else expect(reason).toMatch(expected);
  });

  test('a url with a user or password is refused, without quoting either', () => {
    for (const url of ['https://u:p4ss@example.com/x', 'https://u@example.com/x', 'https://:p4ss@example.com/x', 'http://u:p4ss@127.0.0.1/x']) {
      const reason = checkWebhookUrl(url);
      expect(reason).toMatch(/user name or password/);
      expect(reason).not.toMatch(/p4ss|u@/);
    }
    expect(checkWebhookUrl('https://example.com/x?user=a&password=b')).toBeNull();
  });
});

describe('the URL rule on resolved urls', () => {
  test('a resolved non-https url is invalid input (exit 3), naming connection and ref, not the value', () => {
    const conn = connection({ ref: { env: 'URL' }, baseDir: '/m', root: '/m' }, { ref: { env: 'TOKEN' }, baseDir: '/m', root: '/m' });
    const err = thrown(() => resolveConnectionSecrets(conn.key, conn.secrets, { URL: 'http://internal.example.com/secret-path-xyz', TOKEN: 'Bearer s3cr3t' }));
    expect(err.exitCode).toBe(3);
    expect(err.message).toMatch(/^connection 'identity_service', secrets\.url \(env URL\) is not an allowed webhook URL: /);
    expect(err.message).not.toMatch(/internal\.example|secret-path|s3cr3t/);
  });

  test.each([
    ['https://example.com/hook', null],
    ['http://127.0.0.1:8787/hook', null],
    ['http://127.255.0.9/hook', null],
    ['http://localhost/hook', null],
    ['http://LOCALHOST:9/hook', null],
    ['http://[::1]:8080/hook', null],
    ['http://example.com/hook', /loopback/],
    ['http://128.0.0.1/hook', /loopback/],
    ['http://localhost.example.com/hook', /loopback/],
    ['ftp://example.com/file', /only https/],
    ['example.com/hook', /not an absolute URL/],
  ])('checkWebhookUrl(%s)', (url, expected) => {
    const reason = checkWebhookUrl(url);
    if (expected === null) expect(reason).toBeNull();
    else {
      expect(reason).toMatch(expected);
      expect(reason).not.toContain('example.com');
    }
  });
});
