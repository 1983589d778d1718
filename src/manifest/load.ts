/**
 * Manifest paths → the desired state, or every problem at once. Offline: no state database,
 * no secret resolution. Synchronous and light (yaml and the build's compiled schema) so `hookctl validate` is fast.
 */
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import manifestSchema from '../../schemas/manifest.schema.json' with { type: 'json' };
import type { Access, Direction } from '../model/types.js';
import { countBySeverity, type Diagnostic, type SourceSpan, sortDiagnostics, unpositioned } from './diagnostics.js';
import { shippedSchemaChecker } from './schema-check.js';
import { checkManifestSet, type Entry, type ManifestEntries } from './semantics.js';
import type { DesiredConnection, DesiredPolicy, DesiredState, DesiredWebhook, SecretInput, SecretRef } from './types.js';
import { classifyFile, type SkippedFile } from './kind.js';
import { collectYamlFiles, parseYamlText, type YamlDocument } from './yaml-source.js';

/** Fields as the schema guarantees them once a document validates. */
interface ConnectionFields {
  name: string;
  access?: Access;
  description?: string | null;
  disabled?: boolean;
  timeout_ms?: number;
  secrets: { url: string | SecretRef; authorization: SecretRef };
}
interface WebhookFields {
  name: string;
  connection_config_key: string;
  direction: Direction;
}

let schemaChecker: ((doc: YamlDocument) => Diagnostic[]) | undefined;

/**
 * `secretsDirs`: absolute folders that file refs may read besides each manifest's root
 * (`--secrets-dir`); a ref leaving both, as written, is an error here, offline.
 */
export function loadManifests(
  paths: string[],
  opts: { cwd: string; secretsDirs?: readonly string[] },
): { state: DesiredState | null; diagnostics: Diagnostic[]; sources: Map<string, string>; skipped: SkippedFile[]; documentCount: number } {
  const collected = collectYamlFiles(paths, opts.cwd);
  const { roots, diagnostics } = collected;
  const sources = new Map<string, string>();
  const documents: YamlDocument[] = [];
  const files: string[] = [];
  const skipped: SkippedFile[] = [];
  for (const file of collected.files) {
    let text: string;
    try {
      text = fs.readFileSync(path.resolve(opts.cwd, file), 'utf8');
    } catch (err) {
      files.push(file);
      diagnostics.push({ ...unpositioned(file), severity: 'error', code: 'read-error', message: `cannot read the file: ${(err as Error).message}`, path: '' });
      continue;
    }
    const parsed = parseYamlText(file, text);
    // A file that does not parse has no kind to read: it is reported by every command.
    const kind = parsed.diagnostics.some((d) => d.severity === 'error') ? { kind: 'manifest' as const } : classifyFile(file, parsed.documents);
    if ('kind' in kind && kind.kind === 'scenario') {
      skipped.push({ file, kind: 'scenario' });
      continue;
    }
    files.push(file);
    sources.set(file, text);
    diagnostics.push(...parsed.diagnostics);
    if ('diagnostic' in kind) diagnostics.push(kind.diagnostic);
    else documents.push(...parsed.documents);
  }
  // A document left out (unreadable, bad syntax) may declare the connections others refer to.
  const referencesComplete = !diagnostics.some((d) => d.severity === 'error' && d.code !== 'duplicate-key');

  schemaChecker ??= shippedSchemaChecker(manifestSchema, new URL('../../schemas/manifest.validate.cjs', import.meta.url));
  for (const doc of documents) diagnostics.push(...schemaChecker(doc));
  const refScope = (file: string) => ({ baseDir: path.dirname(path.resolve(opts.cwd, file)), root: roots.get(file)! });
  const checked = checkManifestSet(documents, { referencesComplete, refScope, secretsDirs: opts.secretsDirs ?? [] });
  diagnostics.push(...checked.diagnostics);

  const sorted = sortDiagnostics(diagnostics, files);
  const state = countBySeverity(sorted).errors === 0 ? desiredState(checked.entries, files, sources, opts.cwd, refScope) : null;
  return { state, diagnostics: sorted, sources, skipped, documentCount: documents.length };
}

/** Only called once everything validated: the fields have the schema's shapes. */
function desiredState(
  entries: ManifestEntries,
  files: string[],
  sources: Map<string, string>,
  cwd: string,
  refScope: (file: string) => { baseDir: string; root: string },
): DesiredState {
  const connections = entries.connections.map((c): DesiredConnection => {
    const f = c.fields as unknown as ConnectionFields;
    const scope = refScope(c.doc.file);
    const secret = (s: string | SecretRef): SecretInput => (typeof s === 'string' ? { value: s } : { ref: s, ...scope });
    return withLazySpan(c, {
      key: c.key!,
      name: f.name,
      connection_type: 'https',
      access: f.access ?? 'read',
      description: f.description ?? null,
      disabled: f.disabled ?? false,
      timeout_ms: f.timeout_ms ?? null,
      secrets: { url: secret(f.secrets.url), authorization: secret(f.secrets.authorization) },
    });
  });
  const webhook = (w: Entry): DesiredWebhook => {
    const f = w.fields as unknown as WebhookFields;
    return withLazySpan(w, { key: w.key!, name: f.name, connection_config_key: f.connection_config_key, direction: f.direction });
  };
  const policies = entries.policies.map((p): DesiredPolicy =>
    withLazySpan(p, {
    key: p.key!,
    name: p.fields.name as string,
    ...(p.lists.pre ? { pre_execution_webhooks: p.lists.pre.map(webhook) } : {}),
    ...(p.lists.post ? { post_execution_webhooks: p.lists.post.map(webhook) } : {}),
    }),
  );
  return { connections, policies, files, digest: manifestDigest(files, sources, cwd) };
}

/**
 * `span`, computed when first read: positions cost a full positioned parse of the file, which
 * valid manifests only need when a later step (plan, apply) reports an error at them.
 */
function withLazySpan<T extends object>(entry: Pick<Entry, 'doc' | 'path'>, value: T): T & { readonly span: SourceSpan } {
  let span: SourceSpan | undefined;
  return Object.defineProperty(value, 'span', { get: () => (span ??= entry.doc.spanOf(entry.path)), enumerable: false }) as T & { span: SourceSpan };
}

/**
 * Names count relative to the files' common folder, not to the working directory, so the same
 * manifests give the same digest wherever they are applied from.
 */
function manifestDigest(files: string[], sources: Map<string, string>, cwd: string): string {
  const absolute = files.map((f) => path.resolve(cwd, f));
  let root = absolute.length > 0 ? path.dirname(absolute[0]!) : cwd;
  const inside = (f: string) => !path.relative(root, f).startsWith('..');
  while (!absolute.every(inside) && root !== path.dirname(root)) root = path.dirname(root);
  const hash = createHash('sha256');
  files.forEach((file, i) => {
    const content = Buffer.from(sources.get(file) ?? '', 'utf8');
    // Length-prefixed so that no two different file sets hash alike.
    hash.update(`${path.relative(root, absolute[i]!)}\n${content.length}\n`).update(content);
  });
  return hash.digest('hex');
}
