/**
 * YAML files → plain values that remember where each node came from. Generic: manifests and
 * harness scenarios both load through here.
 */
import fs from 'node:fs';
import path from 'node:path';
import jsyaml from 'js-yaml';
import { createRequire } from 'node:module';
import type { Document, Node, Pair } from 'yaml';

// yaml builds positioned trees (see parseYamlText); it is loaded on first need (~40 ms at
// start-up that valid manifests never pay). Synchronous, because parsing is.
let yamlModule: typeof import('yaml') | undefined;
const yaml = () => (yamlModule ??= createRequire(import.meta.url)('yaml') as typeof import('yaml'));
import { type Diagnostic, formatPath, type SourceSpan, unpositioned } from './diagnostics.js';

export interface YamlDocument {
  /** The file as shown to users (see collectYamlFiles). */
  file: string;
  /** Position of the document in its file (0-based, counting every `---` document). */
  index: number;
  value: unknown;
  /**
   * The source span of the node at `path` (its key with `which: 'key'`). Where the path does
   * not exist (a missing required property), the span of the deepest node that does: the key
   * that holds the parent mapping, or the parent mapping itself.
   */
  spanOf(path: readonly (string | number)[], which?: 'key' | 'value'): SourceSpan;
}

const YAML_EXTENSIONS = /\.ya?ml$/i;

/**
 * Parses every document of a file. Documents with syntax errors are left out (their
 * diagnostics say why); empty documents (nothing or only comments) are left out silently.
 *
 * Two parsers, for speed: js-yaml reads a valid file about ten times faster than yaml builds its
 * positioned node tree (5 MB: 0.27 s against 2.6 s), and valid manifests need no positions. So
 * js-yaml reads first (same YAML 1.2 core schema; it rejects duplicate keys), and yaml's tree is
 * built only when a position is asked for, or when js-yaml fails, to say exactly where and why.
 * Files with anchors take the precise path at once (yaml limits alias expansion).
 */
export function parseYamlText(file: string, text: string): { documents: YamlDocument[]; diagnostics: Diagnostic[] } {
  return parseFast(file, text) ?? parsePrecise(file, text);
}

const ANCHOR = /(^|[\s[{,:-])&[^\s]/m;

function parseFast(file: string, text: string): { documents: YamlDocument[]; diagnostics: Diagnostic[] } | null {
  if (ANCHOR.test(text)) return null;
  let values: unknown[];
  try {
    values = jsyaml.loadAll(text, undefined, { schema: jsyaml.CORE_SCHEMA, filename: file });
  } catch {
    return null;
  }
  let precise: YamlDocument[] | undefined;
  const positioned = (index: number) => (precise ??= parsePrecise(file, text).documents).find((d) => d.index === index);
  const documents: YamlDocument[] = [];
  values.forEach((value, index) => {
    if (value === null || value === undefined) return; // an empty document
    documents.push({
      file,
      index,
      value,
      spanOf: (p, which) => positioned(index)?.spanOf(p, which) ?? { file, line: 0, column: 0, end_line: 0, end_column: 0 },
    });
  });
  return { documents, diagnostics: [] };
}

function parsePrecise(file: string, text: string): { documents: YamlDocument[]; diagnostics: Diagnostic[] } {
  const { LineCounter, parseAllDocuments } = yaml();
  const lineCounter = new LineCounter();
  // uniqueKeys off: duplicates are reported below with both positions, yaml's own error has one.
  const parsed = parseAllDocuments(text, { lineCounter, prettyErrors: false, uniqueKeys: false });
  const spanAt = (start: number, end: number): SourceSpan => {
    // Block collections end at the start of the next line: do not underline trailing blanks.
    let trimmedEnd = end;
    while (trimmedEnd > start && /\s/.test(text[trimmedEnd - 1] ?? '')) trimmedEnd--;
    const from = lineCounter.linePos(start);
    const to = lineCounter.linePos(trimmedEnd);
    return { file, line: from.line, column: from.col, end_line: to.line, end_column: to.col };
  };

  const documents: YamlDocument[] = [];
  const diagnostics: Diagnostic[] = [];
  parsed.forEach((doc, index) => {
    for (const e of doc.errors) {
      diagnostics.push({ ...spanAt(e.pos[0], e.pos[1]), severity: 'error', code: 'yaml-syntax', message: e.message, path: '' });
    }
    for (const w of doc.warnings) {
      diagnostics.push({ ...spanAt(w.pos[0], w.pos[1]), severity: 'warning', code: 'yaml-warning', message: w.message, path: '' });
    }
    if (doc.errors.length > 0 || doc.contents === null) return;

    const nodeProblems = checkNodes(doc, (node) => spanAt(node.range![0], node.range![1]));
    diagnostics.push(...nodeProblems);
    if (nodeProblems.some((d) => d.code === 'yaml-unresolved-alias')) return;

    let value: unknown;
    try {
      value = doc.toJS({ maxAliasCount: 100 });
    } catch (err) {
      const root = doc.contents;
      diagnostics.push({
        ...spanAt(root.range[0], root.range[1]),
        severity: 'error',
        code: 'yaml-syntax',
        message: (err as Error).message,
        path: '',
      });
      return;
    }
    if (value === null || value === undefined) return;
    documents.push({
      file,
      index,
      value,
      spanOf: (p, which = 'value') => spanOfPath(doc, p, which, (node) => spanAt(node.range![0], node.range![1])),
    });
  });
  return { documents, diagnostics };
}

/** Duplicate mapping keys (naming the first occurrence) and aliases without an anchor. */
function checkNodes(doc: Document.Parsed, spanOf: (node: Node) => SourceSpan): Diagnostic[] {
  const { isAlias, isMap, isScalar, isSeq } = yaml();
  const problems: Diagnostic[] = [];
  const visit = (node: unknown, at: (string | number)[]): void => {
    if (isMap(node)) {
      const seen = new Map<string, Node>();
      for (const pair of node.items) {
        const keyNode = pair.key;
        if (isScalar(keyNode) && keyNode.range) {
          const name = String(keyNode.value);
          const first = seen.get(name);
          if (first) {
            const firstPos = spanOf(first);
            problems.push({
              ...spanOf(keyNode),
              severity: 'error',
              code: 'duplicate-key',
              message: `duplicate key '${name}' (first at line ${firstPos.line}, column ${firstPos.column})`,
              path: formatPath([...at, name]),
              hint: 'a mapping may hold each key once: merge the two entries or remove one',
            });
          } else seen.set(name, keyNode);
        }
        visit(pair.value, isScalar(keyNode) ? [...at, String(keyNode.value)] : at);
      }
    } else if (isSeq(node)) {
      node.items.forEach((item, i) => visit(item, [...at, i]));
    } else if (isAlias(node) && node.range && !node.resolve(doc)) {
      problems.push({
        ...spanOf(node),
        severity: 'error',
        code: 'yaml-unresolved-alias',
        message: `alias *${node.source} has no anchor &${node.source} before it`,
        path: formatPath(at),
      });
    }
  };
  visit(doc.contents, []);
  return problems;
}

function spanOfPath(
  doc: Document.Parsed,
  target: readonly (string | number)[],
  which: 'key' | 'value',
  spanOf: (node: Node) => SourceSpan,
): SourceSpan {
  const { isAlias, isMap, isScalar, isSeq } = yaml();
  let node: unknown = doc.contents;
  let viaPair: Pair | undefined; // the pair whose value `node` is, if any
  let found = true;
  for (const seg of target) {
    if (isAlias(node)) node = node.resolve(doc);
    let next: unknown;
    let nextPair: Pair | undefined;
    if (isMap(node)) {
      // The last pair wins, like the parsed value does when a key is duplicated.
      nextPair = node.items.findLast((p) => isScalar(p.key) && String(p.key.value) === String(seg));
      next = nextPair?.value;
    } else if (isSeq(node) && typeof seg === 'number') {
      next = node.items[seg];
    }
    if (!next && !nextPair) {
      found = false; // the path stops here: point at the parent
      break;
    }
    node = next ?? nextPair?.key;
    viaPair = nextPair;
  }

  const keyNode = viaPair && isScalar(viaPair.key) && viaPair.key.range ? viaPair.key : undefined;
  const valueNode = node as Node | undefined;
  const valueIsEmpty = !valueNode?.range || valueNode.range[0] === valueNode.range[1];
  if (keyNode && (which === 'key' || !found || valueIsEmpty)) return spanOf(keyNode);
  if (valueNode?.range) return spanOf(valueNode);
  return spanOf(doc.contents as Node);
}

/**
 * The YAML files named by `paths` (files or folders, relative to `cwd`), each once, as shown
 * to users: relative to `cwd` when inside it, else absolute; resolve against `cwd` to read.
 * Folders are read recursively and their files sorted by path; inside folders, hidden
 * entries and node_modules are skipped. A file named explicitly is read whatever its extension.
 * `roots`: per file (as in `files`), the absolute folder it was found through: the folder named,
 * or the folder of the file named (the first such path when several lead to the file).
 */
export function collectYamlFiles(paths: string[], cwd: string): { files: string[]; roots: Map<string, string>; diagnostics: Diagnostic[] } {
  const files: string[] = [];
  const roots = new Map<string, string>();
  const seen = new Set<string>();
  const diagnostics: Diagnostic[] = [];
  const display = (abs: string) => {
    const rel = path.relative(cwd, abs);
    return rel === '' || rel.startsWith('..') || path.isAbsolute(rel) ? abs : rel.split(path.sep).join('/');
  };
  const add = (abs: string, root: string) => {
    if (!seen.has(abs)) {
      seen.add(abs);
      files.push(display(abs));
      roots.set(display(abs), root);
    }
  };

  for (const given of paths) {
    const abs = path.resolve(cwd, given);
    let stat: fs.Stats;
    try {
      stat = fs.statSync(abs);
    } catch {
      diagnostics.push({
        ...unpositioned(given),
        severity: 'error',
        code: 'missing-path',
        message: 'no such file or folder',
        path: '',
        hint: `paths are relative to the working directory (${cwd})`,
      });
      continue;
    }
    if (!stat.isDirectory()) {
      add(abs, path.dirname(abs));
      continue;
    }
    const found = walkYamlFiles(abs);
    if (found.length === 0) {
      diagnostics.push({
        ...unpositioned(given),
        severity: 'warning',
        code: 'no-yaml-files',
        message: 'folder holds no *.yaml or *.yml files',
        path: '',
      });
    }
    found.sort((a, b) => (a < b ? -1 : a > b ? 1 : 0)).forEach((f) => add(f, abs));
  }
  return { files, roots, diagnostics };
}

function walkYamlFiles(dir: string, visited = new Set<string>()): string[] {
  const real = fs.realpathSync(dir);
  if (visited.has(real)) return []; // a symlink loop
  visited.add(real);
  const out: string[] = [];
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    if (entry.name.startsWith('.') || entry.name === 'node_modules') continue;
    const full = path.join(dir, entry.name);
    const isDir = entry.isDirectory() || (entry.isSymbolicLink() && isDirectory(full));
    if (isDir) out.push(...walkYamlFiles(full, visited));
    else if (YAML_EXTENSIONS.test(entry.name)) out.push(full);
  }
  return out;
}

function isDirectory(p: string): boolean {
  try {
    return fs.statSync(p).isDirectory();
  } catch {
    return false; // a dangling symlink
  }
}
