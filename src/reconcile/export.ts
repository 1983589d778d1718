/**
 * Stored state → manifests. Secrets become `{ env: … }` refs with generated names (values are
 * never exported); with those variables set, a plan of the export against the same state shows
 * no changes. Every list is written out, so the export manages exactly what the state holds.
 */
import { stringify } from 'yaml';
import { PHASES } from '../model/types.js';
import type { StoredState } from '../state/config-store.js';
import { listField } from '../model/phases.js';

export interface ExportResult {
  yaml: string;
  /** The variables the export's secret refs name, in order: `connection`, `field`, `env`. */
  variables: { connection: string; field: 'url' | 'authorization'; env: string }[];
}

export function secretEnvName(connectionKey: string, field: 'url' | 'authorization'): string {
  return `HOOKCTL_SECRET_${connectionKey.replace(/[^A-Za-z0-9]/g, '_').toUpperCase()}_${field.toUpperCase()}`;
}

export interface ExportOptions {
  /** Connection key → url to write as a literal (a Fides server returns it in clear). */
  literalUrls?: ReadonlyMap<string, string>;
  /** Where the state was read from, for the header (default: the state serial). */
  source?: string;
}

export function exportManifests(state: StoredState, opts: ExportOptions = {}): ExportResult {
  const variables: ExportResult['variables'] = [];
  const used = new Set<string>();
  const connection = [...state.connections.values()].map((c) => {
    const env = (field: 'url' | 'authorization') => {
      // Keys differing only in punctuation (a.b, a_b) map to one name: number the later ones.
      let name = secretEnvName(c.key, field);
      for (let n = 2; used.has(name); n++) name = `${secretEnvName(c.key, field)}_${n}`;
      used.add(name);
      variables.push({ connection: c.key, field, env: name });
      return { env: name };
    };
    return {
      key: c.key,
      name: c.name,
      connection_type: c.connection_type,
      access: c.access,
      ...(c.description !== null && { description: c.description }),
      ...(c.disabled && { disabled: true }),
      ...(c.timeout_ms !== null && { timeout_ms: c.timeout_ms }),
      secrets: { url: opts.literalUrls?.get(c.key) ?? env('url'), authorization: env('authorization') },
    };
  });
  const policy = [...state.policies.values()].map((p) => {
    const doc: Record<string, unknown> = { key: p.key, name: p.name };
    for (const phase of PHASES) {
      doc[listField(phase)] = (state.webhooks[phase].get(p.key) ?? []).map((w) => ({
        key: w.key,
        name: w.name,
        connection_config_key: w.connection_config_key,
        direction: w.direction,
      }));
    }
    return doc;
  });
  const header = [
    `# Exported by hookctl from ${opts.source ?? `state serial ${state.serial}`}.`,
    '# Secrets are env refs: set these variables before plan/apply:',
    ...variables.map((v) => `#   ${v.env}  (connection ${v.connection}, secrets.${v.field})`),
  ].join('\n');
  return { yaml: `${header}\n${stringify({ connection, policy }, { lineWidth: 0 })}`, variables };
}
