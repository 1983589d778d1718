import { expect, test } from 'vitest';
import { createSchemaChecker } from '../../src/manifest/schema-check.js';
import { parseYamlText } from '../../src/manifest/yaml-source.js';
import { lines } from './fixtures.js';

// A scenario-like schema: the checker is generic, not tied to manifests.
const schema = {
  $schema: 'http://json-schema.org/draft-07/schema#',
  type: 'object',
  additionalProperties: false,
  required: ['name', 'steps'],
  properties: {
    name: { type: 'string' },
    mode: { enum: ['strict', 'lenient'] },
    steps: {
      type: 'array',
      items: {
        anyOf: [
          { type: 'object', required: ['respond'], additionalProperties: false, properties: { respond: { type: 'integer' } } },
          { type: 'object', required: ['wait'], additionalProperties: false, properties: { wait: { type: 'string' } } },
        ],
        'x-messages': { anyOf: 'must be either { respond: STATUS } or { wait: DURATION }' },
        'x-hints': { anyOf: 'see the scenario format in the contract' },
      },
    },
  },
};
const check = createSchemaChecker(schema);
const diagnose = (text: string) => parseYamlText('s.yaml', text).documents.flatMap(check);

test('a valid document has no diagnostics', () => {
  expect(diagnose(lines('name: ok', 'mode: strict', 'steps:', '  - respond: 200', '  - wait: 1s'))).toEqual([]);
});

test('unknown field and enum value get did-you-mean', () => {
  const diags = diagnose(lines('name: x', 'mdoe: strict', 'steps: []', '---', 'name: y', 'mode: lenint', 'steps: []'));
  expect(diags).toEqual([
    expect.objectContaining({ code: 'unknown-field', line: 2, column: 1, path: 'mdoe', message: "unknown field 'mdoe'; did you mean 'mode'?", hint: 'fields allowed here: name, mode, steps' }),
    expect.objectContaining({ code: 'invalid-value', line: 6, column: 7, path: 'mode', message: "mode must be one of 'strict', 'lenient' (got 'lenint'); did you mean 'lenient'?" }),
  ]);
});

test('a failed anyOf is one diagnostic worded by the schema, not one per alternative', () => {
  const diags = diagnose(lines('name: x', 'steps:', '  - respond: 200', '  - sleep: 1s'));
  expect(diags).toEqual([
    {
      file: 's.yaml',
      line: 4,
      column: 5,
      end_line: 4,
      end_column: 14,
      severity: 'error',
      code: 'invalid-value',
      message: 'steps[1] must be either { respond: STATUS } or { wait: DURATION }',
      path: 'steps[1]',
      hint: 'see the scenario format in the contract',
    },
  ]);
});

test('all errors of a document at once, each at its node', () => {
  const diags = diagnose(lines('mode: 3', 'steps: {}', 'extra: true'));
  expect(diags.map((d) => [d.code, d.line, d.column, d.path])).toEqual([
    ['missing-field', 1, 1, 'name'],
    ['unknown-field', 3, 1, 'extra'],
    ['invalid-value', 1, 7, 'mode'],
    ['invalid-type', 2, 8, 'steps'],
  ]);
});

test('a schema mistake fails loudly when the checker is created', () => {
  expect(() => createSchemaChecker({ type: 'object', propertees: { a: { type: 'string' } } })).toThrow(/unknown keyword/);
});
