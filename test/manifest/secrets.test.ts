import path from 'node:path';
import { describe, expect, test } from 'vitest';
import { HookctlError } from '../../src/errors.js';
import { loadManifests } from '../../src/manifest/load.js';
import { checkWebhookUrl, describeSecretInput, resolveConnectionSecrets, resolveSecretInput } from '../../src/manifest/secrets.js';
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
  expect(describeSecretInput({ ref: { env: 'IDENTITY_HOOK_TOKEN' }, baseDir: '/m' })).toBe('env IDENTITY_HOOK_TOKEN');
  expect(describeSecretInput({ ref: { file: 'secrets/token.txt' }, baseDir: '/m' })).toBe('file secrets/token.txt');
});

describe('resolveSecretInput', () => {
  test('env refs read the given environment', () => {
    expect(resolveSecretInput({ ref: { env: 'TOKEN' }, baseDir: '/m' }, { TOKEN: 'Bearer abc' })).toBe('Bearer abc');
  });

  test('an unset env ref names the ref and where it is used', () => {
    const conn = connection({ value: 'https://x.example.com' }, { ref: { env: 'IDENTITY_HOOK_TOKEN' }, baseDir: '/m' });
    const err = thrown(() => resolveConnectionSecrets(conn.key, conn.secrets, { OTHER: 'Bearer other-secret' }));
    expect(err.exitCode).toBe(1);
    expect(err.message).toBe("secret ref env IDENTITY_HOOK_TOKEN (connection 'identity_service', secrets.authorization) is not set");
    expect(err.hint).toContain('IDENTITY_HOOK_TOKEN');
    expect(`${err.message} ${err.hint}`).not.toContain('other-secret');
  });

  test('an empty env value is an error too', () => {
    expect(thrown(() => resolveSecretInput({ ref: { env: 'T' }, baseDir: '/m' }, { T: '' })).message).toBe('secret ref env T is set but empty');
  });

  test('file refs are relative to the manifest folder; trailing newlines trimmed, inner ones kept', () => {
    const dir = tree({ 'team/secrets/token.txt': 'Bearer abc\n', 'team/crlf.txt': 'line1\nline2\r\n\r\n' });
    const base = path.join(dir, 'team');
    expect(resolveSecretInput({ ref: { file: 'secrets/token.txt' }, baseDir: base }, {})).toBe('Bearer abc');
    expect(resolveSecretInput({ ref: { file: 'crlf.txt' }, baseDir: base }, {})).toBe('line1\nline2');
  });

  test('an unreadable file names the file, exit 1', () => {
    const dir = tree({});
    const err = thrown(() => resolveSecretInput({ ref: { file: 'nope.txt' }, baseDir: dir }, {}, "connection 'c', secrets.url"));
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
    const { state } = loadManifests(['deploy'], { cwd });
    expect(resolveConnectionSecrets(state!.connections[0]!.key, state!.connections[0]!.secrets, { C_TOKEN: 'Bearer t' })).toEqual({ url: 'http://127.0.0.1:8787/hook', authorization: 'Bearer t' });
  });
});

describe('the URL rule on resolved urls', () => {
  test('a resolved non-https url is invalid input (exit 3), naming connection and ref, not the value', () => {
    const conn = connection({ ref: { env: 'URL' }, baseDir: '/m' }, { ref: { env: 'TOKEN' }, baseDir: '/m' });
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
