/**
 * Canonical manifest text (`hookctl fmt`): 2-space indent, block style, fields in the order the
 * schema declares them, secret refs on one line as `{ env: NAME }`. Comments, blank lines and
 * document separators are kept: the yaml Document API moves each pair with its comments.
 */
import fs from 'node:fs';
import path from 'node:path';
import { isDeepStrictEqual } from 'node:util';
import { isMap, isPair, isScalar, isSeq, parseAllDocuments, type Document, type Node } from 'yaml';
import manifestSchema from '../../schemas/manifest.schema.json' with { type: 'json' };
import { type Diagnostic, sortDiagnostics, unpositioned } from './diagnostics.js';
import { classifyFile, type SkippedFile } from './kind.js';
import { collectYamlFiles, parseYamlText } from './yaml-source.js';

interface SchemaNode {
  $ref?: string;
  properties?: Record<string, SchemaNode>;
  items?: SchemaNode;
  then?: SchemaNode;
}

const definitions = (manifestSchema as { definitions: Record<string, SchemaNode> }).definitions;
const SECRET_REF = definitions.secretRef!;

/** A subschema with its `$ref`s followed. */
function resolve(schema: SchemaNode | undefined): SchemaNode | undefined {
  let s = schema;
  while (s?.$ref) s = definitions[s.$ref.replace('#/definitions/', '')];
  return s;
}

/**
 * The canonical text of a manifest file that parsed without errors. The result is checked to
 * mean exactly what the input meant; where it would not (an alias moved above its anchor), this
 * throws rather than rewrite the file.
 */
export function formatManifest(text: string): string {
  const docs = parseAllDocuments(text);
  // A document without content keeps its comments; with none either (a stray `---`), it is dropped.
  const kept = docs.filter((d) => emptyDocumentComments(d)?.length !== 0);
  if (kept.length === 0) return text; // only comments or blank: nothing to arrange
  const parts = kept.map((doc, i) => {
    const separator = i > 0 || doc.directives.docStart === true;
    const comments = emptyDocumentComments(doc);
    if (comments) return `${separator ? '---\n' : ''}${comments.join('\n').split('\n').map((l) => `#${l}`).join('\n')}\n`;
    reorder(doc.contents, manifestSchema as SchemaNode);
    // A separator written before the first document is kept; later documents need one.
    doc.directives.docStart = separator || null;
    return doc.toString({ indent: 2, indentSeq: true, lineWidth: 0, minContentWidth: 0, flowCollectionPadding: true });
  });
  const out = parts.join('');
  const values = (ds: Document[]) => ds.map((d) => d.toJS() as unknown).filter((v) => v !== null && v !== undefined);
  let same: boolean;
  try {
    const reparsed = parseAllDocuments(out);
    same = reparsed.every((d) => d.errors.length === 0) && isDeepStrictEqual(values(docs), values(reparsed));
  } catch {
    same = false; // an alias left without its anchor
  }
  if (!same) {
    throw new Error('formatting would change what the file means (anchors or aliases?); it is left as it is');
  }
  return out;
}

/** The comments of a document without content; null for a document with content. */
function emptyDocumentComments(doc: Document): string[] | null {
  const c = doc.contents;
  if (c !== null && !(isScalar(c) && c.value === null && c.source === '')) return null;
  return [doc.commentBefore, c?.commentBefore, c?.comment, doc.comment].filter((x): x is string => !!x);
}

function reorder(node: unknown, schema: SchemaNode | undefined): void {
  const s = resolve(schema);
  if (isSeq(node)) {
    if (node.items.length > 0) node.flow = false;
    for (const item of node.items) {
      reorder(item, s?.items);
      // A comment above an item's first field reads best above the item's dash.
      const first = isMap(item) ? (item.items[0]?.key as Node | undefined) : undefined;
      if (isMap(item) && first?.commentBefore) {
        item.commentBefore = [item.commentBefore, first.commentBefore].filter((c) => c).join('\n');
        first.commentBefore = undefined;
      }
    }
    return;
  }
  if (!isMap(node)) return;
  const isRef = s === SECRET_REF || resolve(s?.then) === SECRET_REF;
  node.flow = isRef;
  const order = Object.keys((isRef ? SECRET_REF : s)?.properties ?? {});
  const rank = (pair: unknown) => {
    const key = isPair(pair) && isScalar(pair.key) ? String(pair.key.value) : '';
    const r = order.indexOf(key);
    return r === -1 ? order.length : r; // unknown fields keep their place after the known ones
  };
  // A comment or blank line above the first field heads the mapping: it stays on top. Other
  // comments move with the field below them.
  const head = node.items[0]?.key as Node | undefined;
  const heading = { comment: head?.commentBefore, space: head?.spaceBefore };
  if (head) {
    head.commentBefore = undefined;
    head.spaceBefore = undefined;
  }
  // Array.prototype.sort is stable: equal ranks keep their written order.
  const written = [...node.items];
  node.items.sort((a, b) => rank(a) - rank(b));
  if (node.items.some((pair, i) => pair !== written[i])) {
    // Blank lines separated groups of fields that no longer stand together.
    for (const pair of node.items) if (isScalar(pair.key)) pair.key.spaceBefore = undefined;
  }
  const first = node.items[0]?.key as Node | undefined;
  if (first) {
    first.commentBefore = [heading.comment, first.commentBefore].filter((c) => c).join('\n') || undefined;
    first.spaceBefore = heading.space || first.spaceBefore;
  }
  for (const pair of node.items) {
    const key = isScalar(pair.key) ? String(pair.key.value) : '';
    reorder(pair.value, isRef ? undefined : s?.properties?.[key]);
  }
}

export interface FormatResult {
  /** Files whose text is not canonical (rewritten unless `check`), in path order. */
  changed: string[];
  /** Scenario files among the paths, left alone. */
  skipped: SkippedFile[];
  /** Files that could not be formatted, and why; those files are left untouched. */
  diagnostics: Diagnostic[];
  sources: Map<string, string>;
}

/**
 * Formats the manifest files under `paths` (relative to `cwd`). With `check`, nothing is
 * written. A file that does not parse, or is of neither kind, is reported and left as it is;
 * the others are still formatted.
 */
export function formatFiles(paths: string[], opts: { cwd: string; check: boolean }): FormatResult {
  const { files, diagnostics } = collectYamlFiles(paths, opts.cwd);
  const result: FormatResult = { changed: [], skipped: [], diagnostics, sources: new Map() };
  for (const file of files) {
    const abs = path.resolve(opts.cwd, file);
    let text: string;
    try {
      text = fs.readFileSync(abs, 'utf8');
    } catch (err) {
      diagnostics.push({ ...unpositioned(file), severity: 'error', code: 'read-error', message: `cannot read the file: ${(err as Error).message}`, path: '' });
      continue;
    }
    result.sources.set(file, text);
    const parsed = parseYamlText(file, text);
    diagnostics.push(...parsed.diagnostics);
    if (parsed.diagnostics.some((d) => d.severity === 'error')) continue;
    const kind = classifyFile(file, parsed.documents);
    if ('diagnostic' in kind) {
      diagnostics.push(kind.diagnostic);
      continue;
    }
    if (kind.kind === 'scenario') {
      result.skipped.push({ file, kind: 'scenario' });
      continue;
    }
    let formatted: string;
    try {
      formatted = formatManifest(text);
    } catch (err) {
      diagnostics.push({ ...unpositioned(file), severity: 'error', code: 'not-formattable', message: (err as Error).message, path: '' });
      continue;
    }
    if (formatted === text) continue;
    result.changed.push(file);
    if (!opts.check) fs.writeFileSync(abs, formatted);
  }
  result.diagnostics = sortDiagnostics(diagnostics, files);
  return result;
}
