import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, test } from 'vitest';
import { collectYamlFiles, parseYamlText } from '../../src/manifest/yaml-source.js';
import { lines, tree } from './fixtures.js';

describe('parseYamlText', () => {
  const text = lines(
    'steps:', // 1
    '  - name: first', // 2
    '    request: { method: POST }', // 3
    '  - name: second', // 4
    '    reply:', // 5
    '---', // 6
    '# a comment-only document', // 7
    '---', // 8
    '- 1', // 9
  );

  test('keeps documents with their index, skips empty ones', () => {
    const { documents, diagnostics } = parseYamlText('s.yaml', text);
    expect(diagnostics).toEqual([]);
    expect(documents.map((d) => [d.index, d.value])).toEqual([
      [0, { steps: [{ name: 'first', request: { method: 'POST' } }, { name: 'second', reply: null }] }],
      [2, [1]],
    ]);
    expect(parseYamlText('e.yaml', '').documents).toEqual([]);
    expect(parseYamlText('c.yaml', '# only\n# comments\n').documents).toEqual([]);
  });

  test('spanOf maps a path to its value or key node', () => {
    const [doc] = parseYamlText('s.yaml', text).documents;
    expect(doc!.spanOf(['steps', 0, 'name'])).toEqual({ file: 's.yaml', line: 2, column: 11, end_line: 2, end_column: 16 });
    expect(doc!.spanOf(['steps', 0, 'name'], 'key')).toEqual({ file: 's.yaml', line: 2, column: 5, end_line: 2, end_column: 9 });
    expect(doc!.spanOf(['steps', 0, 'request', 'method'])).toEqual({ file: 's.yaml', line: 3, column: 24, end_line: 3, end_column: 28 });
    // A whole mapping ends at its last character, not at the next line.
    expect(doc!.spanOf(['steps', 0])).toEqual({ file: 's.yaml', line: 2, column: 5, end_line: 3, end_column: 30 });
  });

  test('spanOf on an empty value or a missing path points at the nearest key', () => {
    const [doc] = parseYamlText('s.yaml', text).documents;
    expect(doc!.spanOf(['steps', 1, 'reply'])).toMatchObject({ line: 5, column: 5, end_column: 10 });
    expect(doc!.spanOf(['steps', 0, 'request', 'url'])).toMatchObject({ line: 3, column: 5, end_column: 12 });
    expect(doc!.spanOf(['steps', 1, 'missing'])).toMatchObject({ line: 4, column: 5 });
    expect(doc!.spanOf(['steps', 7])).toMatchObject({ line: 1, column: 1, end_column: 6 });
  });

  test('syntax errors are positioned and their document left out', () => {
    const { documents, diagnostics } = parseYamlText('bad.yaml', lines('ok: 1', '---', 'a: b: c'));
    expect(documents.map((d) => d.index)).toEqual([0]);
    expect(diagnostics).toEqual([
      {
        file: 'bad.yaml',
        line: 3,
        column: 4,
        end_line: 3,
        end_column: 5,
        severity: 'error',
        code: 'yaml-syntax',
        message: 'Nested mappings are not allowed in compact mappings',
        path: '',
      },
    ]);
  });

  test('duplicate keys name the first occurrence; the document is kept', () => {
    const { documents, diagnostics } = parseYamlText('d.yaml', lines('a:', '  x: 1', '  y: 2', '  x: 3'));
    expect(documents).toHaveLength(1);
    expect(diagnostics).toEqual([
      expect.objectContaining({ code: 'duplicate-key', line: 4, column: 3, end_column: 4, path: 'a.x', message: "duplicate key 'x' (first at line 2, column 3)" }),
    ]);
  });

  test('an alias without an anchor is an error at the alias', () => {
    const { documents, diagnostics } = parseYamlText('a.yaml', lines('a: 1', 'b: *nope'));
    expect(documents).toEqual([]);
    expect(diagnostics).toEqual([expect.objectContaining({ code: 'yaml-unresolved-alias', line: 2, column: 4, path: 'b' })]);
  });

  test('aliases resolve to their anchors', () => {
    const [doc] = parseYamlText('a.yaml', lines('base: &b { x: 1 }', 'copy: *b')).documents;
    expect(doc!.value).toEqual({ base: { x: 1 }, copy: { x: 1 } });
    expect(doc!.spanOf(['copy', 'x'])).toMatchObject({ line: 1, column: 15 });
  });
});

describe('collectYamlFiles', () => {
  test('folders recursively in sorted path order; explicit files as given; each once', () => {
    const cwd = tree({
      'm/b.yaml': '',
      'm/a.yml': '',
      'm/z/c.yaml': '',
      'm/a-b.yaml': '',
      'm/a/d.yaml': '',
      'm/notes.txt': '',
      'm/.hidden/x.yaml': '',
      'm/node_modules/x.yaml': '',
      'extra.conf': '',
    });
    const { files, diagnostics } = collectYamlFiles(['extra.conf', 'm', 'm/b.yaml'], cwd);
    expect(diagnostics).toEqual([]);
    expect(files).toEqual(['extra.conf', 'm/a-b.yaml', 'm/a.yml', 'm/a/d.yaml', 'm/b.yaml', 'm/z/c.yaml']);
  });

  test('paths outside the working directory stay absolute', () => {
    const outside = tree({ 'o.yaml': '' });
    const cwd = tree({});
    expect(collectYamlFiles([outside], cwd).files).toEqual([path.join(outside, 'o.yaml')]);
  });

  test('a missing path is an error diagnostic; an empty folder a warning', () => {
    const cwd = tree({ 'empty/.keep': '' });
    const { files, diagnostics } = collectYamlFiles(['nope.yaml', 'empty'], cwd);
    expect(files).toEqual([]);
    expect(diagnostics.map((d) => [d.severity, d.code, d.file, d.line])).toEqual([
      ['error', 'missing-path', 'nope.yaml', 0],
      ['warning', 'no-yaml-files', 'empty', 0],
    ]);
  });

  test('a symlink loop does not recurse forever', () => {
    const cwd = tree({ 'm/a.yaml': '' });
    fs.symlinkSync(path.join(cwd, 'm'), path.join(cwd, 'm/loop'));
    expect(collectYamlFiles(['m'], cwd).files).toEqual(['m/a.yaml']);
  });
});
