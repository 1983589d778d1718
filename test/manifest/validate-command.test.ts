import fs from 'node:fs';
import path from 'node:path';
import { expect, test } from 'vitest';
import { runValidate } from '../../src/cli/validate.js';
import { tree, VALID, withLine } from './fixtures.js';

const repo = path.resolve(import.meta.dirname, '../..');

test('valid manifests: exit 0 and a one-line summary', () => {
  expect(runValidate(['examples/quickstart'], 'text', false, repo)).toEqual({
    output: '✓ 1 file, 1 connection, 1 policy, 2 webhooks: valid\n',
    exitCode: 0,
    // The quickstart keeps the scenario of its identity service beside the manifest.
    skipped: [{ file: 'examples/quickstart/identity-service.scenario.yaml', kind: 'scenario' }],
  });
  expect(runValidate(['examples/multi-team'], 'text', false, repo).output).toBe('✓ 3 files, 3 connections, 4 policies, 7 webhooks: valid\n');
});

test("the default path '.' reads the working directory; secrets are not resolved, no state is opened", () => {
  // IDENTITY_TOKEN is not set anywhere: validate must not care.
  const cwd = tree({ 'hooks/a.yaml': VALID });
  const result = runValidate(['.'], 'json', false, cwd);
  expect(result.exitCode).toBe(0);
  expect(JSON.parse(result.output)).toEqual({ valid: true, error_count: 0, warning_count: 0, diagnostics: [] });
  expect(fs.readdirSync(cwd)).toEqual(['hooks']);
});

test('invalid manifests: exit 3 with the diagnostics in the chosen format', () => {
  const cwd = tree({ 'a.yaml': withLine(15, '        direction: twoway') });

  const text = runValidate(['.'], 'text', false, cwd);
  expect(text.exitCode).toBe(3);
  expect(text.output).toContain("a.yaml:15:20: error[invalid-value]: direction must be one of 'one_way', 'two_way' (got 'twoway'); did you mean 'two_way'?");
  expect(text.output).toContain(' 15 |         direction: twoway\n');
  expect(text.output.trimEnd().split('\n').at(-1)).toBe('✗ 1 error');
  expect(text.output).not.toContain('✓');

  const json = runValidate(['.'], 'json', false, cwd);
  expect(json.exitCode).toBe(3);
  expect(JSON.parse(json.output)).toMatchObject({ valid: false, error_count: 1, diagnostics: [{ file: 'a.yaml', line: 15, column: 20, path: 'policy[0].pre_execution_webhooks[0].direction' }] });

  const github = runValidate(['.'], 'github', false, cwd);
  expect(github).toEqual({
    output: "::error file=a.yaml,line=15,col=20::direction must be one of 'one_way', 'two_way' (got 'twoway'); did you mean 'two_way'?\n",
    exitCode: 3,
    skipped: [],
  });
});

test('warnings alone keep it valid', () => {
  const cwd = tree({ 'a.yaml': VALID, 'empty/.keep': '' });
  const result = runValidate(['a.yaml', 'empty'], 'text', false, cwd);
  expect(result.exitCode).toBe(0);
  expect(result.output).toContain('empty: warning[no-yaml-files]');
  expect(result.output).toMatch(/✓ 1 file, 1 connection, 1 policy, 1 webhook: valid\n$/);
});

test('validate and the manifest module stay light: no database, HTTP server or mocking library', () => {
  const heavy = /from ['"](knex|pg|sqlite3|fastify|msw|undici)['"/]/;
  const files = [
    'src/cli/validate.ts',
    ...fs.readdirSync(path.join(repo, 'src/manifest')).map((f) => `src/manifest/${f}`),
  ];
  for (const file of files) expect(fs.readFileSync(path.join(repo, file), 'utf8'), file).not.toMatch(heavy);
});
