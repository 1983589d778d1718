/**
 * Manifests and harness scenarios may share a folder: each command reads the files of its kind
 * and skips the others. A file's kind is read from the top-level keys of its documents.
 */
import type { Diagnostic } from './diagnostics.js';
import { didYouMean } from './suggest.js';
import type { YamlDocument } from './yaml-source.js';

export type FileKind = 'manifest' | 'scenario';

const MANIFEST_KEYS = ['connection', 'policy'];
const SCENARIO_KEYS = ['requests', 'endpoints'];

/** A file a command left out because it is of the other kind (reported under --verbose). */
export interface SkippedFile {
  file: string;
  kind: FileKind;
}

const hasAny = (value: unknown, keys: readonly string[]): boolean =>
  typeof value === 'object' && value !== null && !Array.isArray(value) && keys.some((k) => Object.hasOwn(value, k));

/**
 * A file with a scenario document is a scenario file; one with a manifest document, or with no
 * document at all (empty, only comments), is a manifest file. A document that disagrees with its
 * file's kind is left to that kind's schema to report. A file of neither kind is an error, at its
 * first document. Only call this for files that parsed without errors.
 */
export function classifyFile(file: string, documents: readonly YamlDocument[]): { kind: FileKind } | { diagnostic: Diagnostic } {
  if (documents.some((d) => hasAny(d.value, SCENARIO_KEYS))) return { kind: 'scenario' };
  if (documents.length === 0 || documents.some((d) => hasAny(d.value, MANIFEST_KEYS))) return { kind: 'manifest' };
  const first = documents[0]!;
  const keys = typeof first.value === 'object' && first.value !== null && !Array.isArray(first.value) ? Object.keys(first.value) : [];
  const suggestion = keys.map((k) => didYouMean(k, [...MANIFEST_KEYS, ...SCENARIO_KEYS])).find((s) => s !== '');
  const found = keys.length > 0 ? `its top-level keys are ${keys.map((k) => `'${k}'`).join(', ')}` : 'it is not a mapping';
  return {
    diagnostic: {
      ...first.spanOf(keys.length > 0 ? [keys[0]!] : [], 'key'),
      file,
      severity: 'error',
      code: 'unknown-file-kind',
      message: `the file is neither a manifest nor a scenario: ${found}`,
      path: '',
      hint: `a manifest has 'connection' and/or 'policy' at the top, a scenario has 'requests' or 'endpoints'${suggestion ?? ''}`,
    },
  };
}
