import { describe, expect, test } from 'vitest';
import { type Diagnostic, formatDiagnostics } from '../../src/manifest/diagnostics.js';
import { loadManifests } from '../../src/manifest/load.js';
import { tree, withLine } from './fixtures.js';

const unknownField: Diagnostic = {
  file: 'teams/a.yaml',
  line: 3,
  column: 5,
  end_line: 3,
  end_column: 9,
  severity: 'error',
  code: 'unknown-field',
  message: "unknown field 'nmae'; did you mean 'name'?",
  path: 'connection[0].nmae',
  hint: 'fields allowed here: key, name',
};
const warning: Diagnostic = { file: 'empty', line: 0, column: 0, end_line: 0, end_column: 0, severity: 'warning', code: 'no-yaml-files', message: 'folder holds no *.yaml or *.yml files', path: '' };
const sources = new Map([['teams/a.yaml', 'connection:\n  - key: k\n    nmae: Identity\n']]);

describe('text', () => {
  test('position, severity and code, the real source line with its number, an underline, the hint, a summary', () => {
    const out = formatDiagnostics([unknownField, warning], 'text', { color: false, sources });
    expect(out).toBe(
      [
        "teams/a.yaml:3:5: error[unknown-field]: unknown field 'nmae'; did you mean 'name'?",
        ' 3 |     nmae: Identity',
        '   |     ^^^^',
        '  hint: fields allowed here: key, name',
        '',
        'empty: warning[no-yaml-files]: folder holds no *.yaml or *.yml files',
        '',
        '✗ 1 error, 1 warning',
        '',
      ].join('\n'),
    );
  });

  test('a span running over several lines is underlined to the end of its first line', () => {
    const multi = { ...unknownField, line: 2, column: 5, end_line: 3, end_column: 19 };
    expect(formatDiagnostics([multi], 'text', { color: false, sources })).toContain(' 2 |   - key: k\n   |     ^^^^^^\n');
  });

  test('colour only when asked', () => {
    expect(formatDiagnostics([unknownField], 'text', { color: false, sources })).not.toContain('\u001b[');
    expect(formatDiagnostics([unknownField], 'text', { color: true, sources })).toContain('\u001b[31m');
  });

  test('nothing to say, nothing printed', () => {
    expect(formatDiagnostics([], 'text', { color: false, sources })).toBe('');
  });
});

test('json: the contract shape', () => {
  const report = JSON.parse(formatDiagnostics([unknownField, warning], 'json', { color: false, sources }));
  expect(report).toEqual({
    valid: false,
    error_count: 1,
    warning_count: 1,
    diagnostics: [
      { severity: 'error', code: 'unknown-field', message: "unknown field 'nmae'; did you mean 'name'?", file: 'teams/a.yaml', line: 3, column: 5, end_line: 3, end_column: 9, path: 'connection[0].nmae' },
      { severity: 'warning', code: 'no-yaml-files', message: 'folder holds no *.yaml or *.yml files', file: 'empty', line: 0, column: 0, end_line: 0, end_column: 0, path: '' },
    ],
  });
  expect(JSON.parse(formatDiagnostics([warning], 'json', { color: false, sources }))).toMatchObject({ valid: true, error_count: 0, warning_count: 1 });
});

test('github: one workflow command per diagnostic, escaped', () => {
  const out = formatDiagnostics([unknownField, { ...warning, file: 'odd,name:1' }, { ...unknownField, hint: undefined, message: '100% wrong\nreally' }], 'github', { color: false, sources });
  expect(out.split('\n')).toEqual([
    "::error file=teams/a.yaml,line=3,col=5::unknown field 'nmae'; did you mean 'name'?%0Ahint: fields allowed here: key, name",
    '::warning file=odd%2Cname%3A1::folder holds no *.yaml or *.yml files',
    '::error file=teams/a.yaml,line=3,col=5::100%25 wrong%0Areally',
    '',
  ]);
});

test('end to end: a loaded file renders its own lines', () => {
  const cwd = tree({ 'a.yaml': withLine(15, '        direction: twoway') });
  const { diagnostics, sources: loaded } = loadManifests(['a.yaml'], { cwd });
  const out = formatDiagnostics(diagnostics, 'text', { color: false, sources: loaded });
  expect(out).toContain("a.yaml:15:20: error[invalid-value]: direction must be one of 'one_way', 'two_way' (got 'twoway'); did you mean 'two_way'?\n 15 |         direction: twoway\n    |                    ^^^^^^\n");
});
