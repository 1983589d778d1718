/**
 * Which manifests each scenario runs against (`--manifests`, else the scenario's own
 * `manifests:`), each distinct set loaded once, and the checks that need a scenario and its
 * manifests together: every request's policy exists, every secret ref resolves from the
 * scenario's env. A run starts only when every scenario can run; otherwise every problem is
 * reported at once, positioned, and nothing runs (exit 3).
 */
import fs from 'node:fs';
import path from 'node:path';
import { HookctlError } from '../src/errors.js';
import { type Diagnostic, type DiagnosticCode, formatPath } from '../src/manifest/diagnostics.js';
import { loadManifests } from '../src/manifest/load.js';
import { resolveSecretInput } from '../src/manifest/secrets.js';
import { checkSecretValue } from '../src/model/secrets.js';
import { didYouMean } from '../src/manifest/suggest.js';
import type { DesiredState } from '../src/manifest/types.js';
import { SECRET_FIELDS } from '../src/model/types.js';
import type { Scenario } from './scenario.js';

export interface ManifestBinding {
  /** The desired state a scenario runs against; only call it when `diagnostics` hold no error. */
  desiredOf(scenario: Scenario): DesiredState;
  /** Manifest diagnostics (each set once) and scenario problems. */
  diagnostics: Diagnostic[];
  /** Manifest file texts, for formatDiagnostics' source excerpts. */
  sources: Map<string, string>;
}

/**
 * `manifests`: the `--manifests` paths, relative to `cwd`; they replace every scenario's own.
 * `secretsDirs`: folders file refs may read besides their manifest root (`--secrets-dir`).
 */
export function bindManifests(scenarios: Scenario[], opts: { manifests?: string[]; cwd: string; secretsDirs?: readonly string[] }): ManifestBinding {
  const diagnostics: Diagnostic[] = [];
  const sources = new Map<string, string>();
  const sets = new Map<string, DesiredState | null>();
  const bound = new Map<Scenario, DesiredState>();
  const given = opts.manifests && opts.manifests.length > 0 ? opts.manifests.map((p) => path.resolve(opts.cwd, p)) : null;

  const load = (paths: string[]): DesiredState | null => {
    const loaded = loadManifests(paths.map((p) => displayPath(p, opts.cwd)), { cwd: opts.cwd, secretsDirs: opts.secretsDirs ?? [] });
    diagnostics.push(...loaded.diagnostics);
    for (const [file, text] of loaded.sources) sources.set(file, text);
    return loaded.state;
  };

  for (const scenario of scenarios) {
    const problem = (code: DiagnosticCode, at: (string | number)[], message: string, hint: string, which: 'key' | 'value' = 'value') =>
      diagnostics.push({ ...scenario.spanOf(at, which), severity: 'error', code, message: `scenario '${scenario.name}': ${message}`, path: formatPath(at), hint });
    const paths = given ?? scenario.manifests;
    if (paths === null) {
      problem('no-manifests', ['name'], 'names no manifests to run against', 'add `manifests: PATH` (relative to the scenario file) or pass --manifests PATHS', 'key');
      continue;
    }
    if (!given) {
      const missing = paths.filter((p) => !fs.existsSync(p));
      for (const p of missing) {
        const at = paths.length === 1 ? ['manifests'] : ['manifests', paths.indexOf(p)];
        problem('missing-manifests', at, `manifest path ${p} does not exist`, "paths in `manifests:` are relative to the scenario file's folder");
      }
      if (missing.length > 0) continue;
    }
    const key = JSON.stringify(paths);
    if (!sets.has(key)) sets.set(key, load(paths));
    const desired = sets.get(key);
    if (!desired) continue; // its diagnostics are reported once, with the manifests
    diagnostics.push(...checkScenarioAgainst(scenario, desired, opts.secretsDirs ?? []));
    bound.set(scenario, desired);
  }

  return {
    desiredOf(scenario) {
      const desired = bound.get(scenario);
      if (!desired) throw new Error(`scenario '${scenario.name}' has no valid manifests`);
      return desired;
    },
    diagnostics,
    sources,
  };
}

function checkScenarioAgainst(scenario: Scenario, desired: DesiredState, secretsDirs: readonly string[]): Diagnostic[] {
  const out: Diagnostic[] = [];
  const report = (code: DiagnosticCode, at: (string | number)[], message: string, hint: string | undefined, which: 'key' | 'value' = 'value') =>
    out.push({ ...scenario.spanOf(at, which), severity: 'error', code, message: `scenario '${scenario.name}': ${message}`, path: formatPath(at), ...(hint && { hint }) });

  const policies = desired.policies.map((p) => p.key);
  scenario.requests.forEach((request, i) => {
    if (policies.includes(request.policy_key)) return;
    report(
      'unknown-policy',
      ['requests', i, 'policy_key'],
      `policy '${request.policy_key}' is not declared in its manifests${didYouMean(request.policy_key, policies)}`,
      `the manifests (${desired.files.join(', ')}) declare ${policies.length > 0 ? policies.map((k) => `'${k}'`).join(', ') : 'no policy'}`,
    );
  });

  // The apply of each scenario resolves every connection's secrets, so every ref must resolve.
  for (const connection of desired.connections) {
    for (const field of SECRET_FIELDS) {
      const input = connection.secrets[field];
      const where = `connection '${connection.key}', secrets.${field}`;
      try {
        const value = resolveSecretInput(input, scenario.env, where, secretsDirs);
        const reason = checkSecretValue(field, value);
        if (reason) report(field === 'url' ? 'invalid-url' : 'invalid-authorization', ['env'], `${where} is not an allowed ${field === 'url' ? 'webhook URL' : 'authorization'}: ${reason}`, undefined, 'key');
      } catch (err) {
        if (!(err instanceof HookctlError)) throw err;
        const name = 'ref' in input && 'env' in input.ref ? input.ref.env : null;
        const hint = name
          ? `add ${name} to the scenario's env: in a simulation, secret refs resolve from the scenario's env, never from the process environment`
          : err.hint;
        report('unresolved-secret', ['env'], err.message, hint, 'key');
      }
    }
  }
  return out;
}

/** Relative to `cwd` when inside it, as every other file name users see. */
function displayPath(abs: string, cwd: string): string {
  const rel = path.relative(cwd, abs);
  return rel === '' ? '.' : rel.startsWith('..') || path.isAbsolute(rel) ? abs : rel;
}
