/**
 * The checks a JSON Schema cannot express, across ALL documents of a manifest set: unique
 * keys and names, derived keys, references to connections, the webhook URL rule. Runs on
 * documents that may have failed the schema, so it reads fields defensively and leaves shape
 * problems to the schema's diagnostics.
 */
import { resolveKey } from '../model/keys.js';
import { type Phase, PHASES, SECRET_FIELDS } from '../model/types.js';
import { listField, PHASE_NAMES } from '../model/phases.js';
import { type Diagnostic, type DiagnosticCode, formatPath, formatPosition } from './diagnostics.js';
import { checkWebhookUrl } from '../model/secrets.js';
import { describeSecretInput, secretRefProblem } from './secrets.js';
import type { SecretRef } from './types.js';
import { didYouMean } from './suggest.js';
import type { YamlDocument } from './yaml-source.js';

type Segment = string | number;
type Fields = Record<string, unknown>;

/** A connection, policy or webhook mapping where it was found, with its (maybe derived) key. */
export interface Entry {
  doc: YamlDocument;
  path: Segment[];
  fields: Fields;
  /** Undefined when neither a usable key nor name is there (other diagnostics say why). */
  key: string | undefined;
  /** Where the key comes from: the `key` field, or `name` when derived. */
  keyPath: Segment[];
}

export interface PolicyEntry extends Entry {
  /** Per phase; absent when the manifest omits the list (not managed). */
  lists: Partial<Record<Phase, Entry[]>>;
}

export interface ManifestEntries {
  connections: Entry[];
  policies: PolicyEntry[];
}


/** Where a rule reports: the entry's document gives the position of `at`. */
type Report = (entry: { doc: YamlDocument }, at: Segment[], code: DiagnosticCode, message: string, hint?: string) => void;

/**
 * `referencesComplete`: every document could be read, so a connection that is not found is
 * really undeclared (not hidden in a file with a syntax error). `refScope`: the folder a file's
 * refs are relative to and its manifest root; with `secretsDirs`, where file refs may point.
 * Each rule below reads the entries and reports through one sink, in this order.
 */
export function checkManifestSet(
  docs: readonly YamlDocument[],
  opts: {
    referencesComplete: boolean;
    refScope?: (file: string) => { baseDir: string; root: string };
    secretsDirs?: readonly string[];
  },
): { diagnostics: Diagnostic[]; entries: ManifestEntries } {
  const diagnostics: Diagnostic[] = [];
  const report: Report = (entry, at, code, message, hint) =>
    diagnostics.push({ ...entry.doc.spanOf(at), severity: 'error', code, message, path: formatPath(at), ...(hint ? { hint } : {}) });

  const entries = collectEntries(docs, report);
  const connections = checkUniqueKeys(entries.connections, 'connection', report);
  checkUniqueKeys(entries.policies, 'policy', report);
  for (const phase of PHASES) checkUniqueWebhooks(entries.policies, phase, report);
  if (opts.referencesComplete) checkConnectionRefs(entries.policies, [...connections.keys()], report);
  checkConnectionUrls(entries.connections, report);
  if (opts.refScope) checkSecretRefs(entries.connections, opts.refScope, opts.secretsDirs ?? [], report);
  return { diagnostics, entries };
}

/** Every connection, policy and webhook mapping of the documents, keyed. */
function collectEntries(docs: readonly YamlDocument[], report: Report): ManifestEntries {
  const entries: ManifestEntries = { connections: [], policies: [] };
  for (const doc of docs) {
    const root = asFields(doc.value);
    for (const [i, fields] of mappingsOf(root?.connection)) entries.connections.push(keyedEntry(doc, ['connection', i], fields, report));
    for (const [i, fields] of mappingsOf(root?.policy)) {
      const policy: PolicyEntry = { ...keyedEntry(doc, ['policy', i], fields, report), lists: {} };
      for (const phase of PHASES) {
        const list = fields[listField(phase)];
        if (!Array.isArray(list)) continue;
        policy.lists[phase] = mappingsOf(list).map(([j, w]) => keyedEntry(doc, ['policy', i, listField(phase), j], w, report));
      }
      entries.policies.push(policy);
    }
  }
  return entries;
}

/** The entry with its key: the `key` field, else derived from `name` (reported when it cannot be). */
function keyedEntry(doc: YamlDocument, path: Segment[], fields: Fields, report: Report): Entry {
  const given = typeof fields.key === 'string' ? fields.key : undefined;
  const name = typeof fields.name === 'string' ? fields.name : undefined;
  const keyPath = [...path, given === undefined ? 'name' : 'key'];
  if (given === undefined && name === undefined) return { doc, path, fields, key: undefined, keyPath };
  const resolved = resolveKey({ key: given, name });
  if (resolved.problem !== undefined) report({ doc }, keyPath, 'invalid-derived-key', resolved.problem, "set `key` explicitly (letters, digits, '.', '_' or '-')");
  return { doc, path, fields, key: resolved.key, keyPath };
}

/**
 * Connection and policy keys are unique across all files: the later declaration is the error,
 * naming the first one's position. Returns the first declaration of each key.
 */
function checkUniqueKeys(list: readonly Entry[], kind: 'connection' | 'policy', report: Report): Map<string, Entry> {
  const first = new Map<string, Entry>();
  for (const e of list) {
    if (e.key === undefined) continue;
    const earlier = first.get(e.key);
    if (!earlier) first.set(e.key, e);
    else report(e, e.keyPath, `duplicate-${kind}-key`, `${kind} key '${e.key}'${derivedNote(e)} is already declared at ${where(earlier)}`, `${kind} keys must be unique across all manifest files`);
  }
  return first;
}

/** Fides keeps webhook keys and names unique per table (phase), across all policies. */
function checkUniqueWebhooks(policies: readonly PolicyEntry[], phase: Phase, report: Report): void {
  const byKey = new Map<string, [Entry, PolicyEntry]>();
  const byName = new Map<string, [Entry, PolicyEntry]>();
  const owner = ([found, foundIn]: [Entry, PolicyEntry]) =>
    `${where(found)} (${policyLabel(foundIn)}${found.keyPath.at(-1) === 'name' ? ', key derived from its name' : ''})`;
  for (const policy of policies) {
    for (const w of policy.lists[phase] ?? []) {
      if (w.key !== undefined) {
        const first = byKey.get(w.key);
        if (!first) byKey.set(w.key, [w, policy]);
        else {
          report(w, w.keyPath, 'duplicate-webhook-key', `${PHASE_NAMES[phase].word} webhook key '${w.key}'${derivedNote(w)} is already used at ${owner(first)}`, `${PHASE_NAMES[phase].word} webhook keys are unique across all policies (as in Fides): ${w.keyPath.at(-1) === 'name' ? 'set `key`' : 'choose another key'}`);
        }
      }
      if (typeof w.fields.name === 'string') {
        const first = byName.get(w.fields.name);
        if (!first) byName.set(w.fields.name, [w, policy]);
        else {
          report(w, [...w.path, 'name'], 'duplicate-webhook-name', `${PHASE_NAMES[phase].word} webhook name '${w.fields.name}' is already used at ${owner(first)}`, `${PHASE_NAMES[phase].word} webhook names are unique across all policies (as in Fides): rename one`);
        }
      }
    }
  }
}

/** Every webhook names a declared connection. */
function checkConnectionRefs(policies: readonly PolicyEntry[], declared: string[], report: Report): void {
  const known = new Set(declared);
  for (const policy of policies) {
    for (const w of Object.values(policy.lists).flat()) {
      const ref = w.fields.connection_config_key;
      if (typeof ref !== 'string' || known.has(ref)) continue;
      report(
        w,
        [...w.path, 'connection_config_key'],
        'unknown-connection',
        `connection_config_key '${ref}' names no declared connection${didYouMean(ref, declared)}`,
        declared.length > 0 ? `declared connections: ${declared.join(', ')}` : 'declare the connection under `connection:` in a manifest file',
      );
    }
  }
}

/** A literal webhook URL follows the URL rule (a ref's value is checked when resolved). */
function checkConnectionUrls(connections: readonly Entry[], report: Report): void {
  for (const c of connections) {
    const url = asFields(c.fields.secrets)?.url;
    if (typeof url !== 'string' || url === '') continue;
    const reason = checkWebhookUrl(url);
    if (reason) report(c, [...c.path, 'secrets', 'url'], 'invalid-url', `url is not allowed: ${reason}`);
  }
}

/** Refs that are refused as written: a reserved variable, a file path leaving the root. */
function checkSecretRefs(
  connections: readonly Entry[],
  refScope: (file: string) => { baseDir: string; root: string },
  secretsDirs: readonly string[],
  report: Report,
): void {
  for (const c of connections) {
    const secrets = asFields(c.fields.secrets);
    for (const field of SECRET_FIELDS) {
      const ref = asSecretRef(secrets?.[field]);
      if (!ref) continue;
      const input = { ref, ...refScope(c.doc.file) };
      const problem = secretRefProblem(input, secretsDirs);
      if (problem) report(c, [...c.path, 'secrets', field], problem.code, `secrets.${field}: ${describeSecretInput(input)} ${problem.reason}`, problem.hint);
    }
  }
}

function derivedNote(e: Entry): string {
  return e.keyPath.at(-1) === 'name' ? ` (derived from name '${String(e.fields.name)}')` : '';
}

function policyLabel(p: PolicyEntry): string {
  return p.key === undefined ? formatPath(p.path) : `policy '${p.key}'`;
}

function where(e: Entry): string {
  return formatPosition(e.doc.spanOf(e.keyPath));
}

/** A well-formed ref; a malformed one is the schema's to report. */
function asSecretRef(value: unknown): SecretRef | undefined {
  const fields = asFields(value);
  if (typeof fields?.env === 'string' && fields.env !== '') return { env: fields.env };
  if (typeof fields?.file === 'string' && fields.file !== '') return { file: fields.file };
  return undefined;
}

function asFields(value: unknown): Fields | undefined {
  return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Fields) : undefined;
}

/** The mapping items of a list with their positions; anything else is the schema's to report. */
function mappingsOf(list: unknown): [number, Fields][] {
  if (!Array.isArray(list)) return [];
  const out: [number, Fields][] = [];
  list.forEach((item, i) => {
    const fields = asFields(item);
    if (fields) out.push([i, fields]);
  });
  return out;
}
