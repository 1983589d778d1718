/**
 * The build compiles the shipped schemas to standalone validators (src/manifest/precompile-schemas.ts);
 * the built CLI must report exactly what compiling the schema at run time reports.
 */
import { createRequire } from 'node:module';
import { expect, test } from 'vitest';
import { runValidate } from '../../src/cli/validate.js';
import { schemaDigest } from '../../src/manifest/schema-check.js';
import manifestSchema from '../../schemas/manifest.schema.json' with { type: 'json' };
import scenarioSchema from '../../schemas/scenario.schema.json' with { type: 'json' };
import { runCli } from '../helpers/cli.js';
import { lines, tree, VALID, withLine } from './fixtures.js';

test('built validate (precompiled schema) and the sources (schema compiled at run time) report the same diagnostics', async () => {
  const cwd = tree({
    'a.yaml': withLine(15, '        direction: twoway'),
    'b.yaml': lines('connection:', '  - key: c', '    name: 7', '    connection_type: ftp', '    secrets: { url: 3 }', '    colour: blue', 'policy:', '  - name: ""', '    pre_execution_webhooks: {}'),
    'c.yaml': VALID.replace('name:', 'nmae:'),
    'd.yaml': lines('policy: 5'),
  });
  const fromSources = runValidate(['.'], 'json', false, cwd);
  const built = await runCli(['validate', '--format', 'json', '.'], { cwd });
  expect(built.code).toBe(3);
  const report = JSON.parse(built.stdout) as { error_count: number };
  expect(report.error_count).toBeGreaterThan(8);
  expect(report).toEqual(JSON.parse(fromSources.output));
});

test('the build holds a validator compiled from each shipped schema as it is now (else every start compiles it)', () => {
  const load = createRequire(import.meta.url);
  for (const [name, schema] of [['manifest', manifestSchema], ['scenario', scenarioSchema]] as const) {
    const built = load(`../../dist/schemas/${name}.validate.cjs`) as { schemaDigest: string };
    expect(built.schemaDigest, name).toBe(schemaDigest(schema));
  }
});
