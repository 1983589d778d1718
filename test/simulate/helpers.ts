/** Scenarios run through the real engine in this process: the harness's runner with EngineHost. */
import { bindManifests } from '../../harness/manifest-binding.js';
import { EngineHost } from '../../harness/engine-target.js';
import { runScenarios, type SimulationReport } from '../../harness/runner.js';
import { loadScenarios } from '../../harness/scenario.js';
import type { TargetFactory } from '../../harness/target.js';
import type { RequestView } from '../../src/engine/request-views.js';
import { writeTree } from '../harness/helpers.js';

/** Fake hosts only: nothing answers at them but the simulation. */
export const MANIFESTS = `connection:
  - key: identity
    name: Identity
    connection_type: https
    secrets:
      url: https://identity.example.com/hooks/privacy
      authorization: { env: IDENTITY_TOKEN }
  - key: cache
    name: Cache
    connection_type: https
    secrets:
      url: https://cache.example.com/bust
      authorization: { env: CACHE_TOKEN }
policy:
  - key: access
    name: Access
    pre_execution_webhooks:
      - { key: resolve, name: Resolve, connection_config_key: identity, direction: two_way }
    post_execution_webhooks:
      - { key: bust, name: Bust, connection_config_key: cache, direction: one_way }
`;

/** The start of a scenario document against MANIFESTS (the secret values are test-only). */
export const HEADER = `manifests: manifests.yaml
env: { IDENTITY_TOKEN: identity-secret-4711, CACHE_TOKEN: cache-secret-4712 }
`;

export interface EngineRun {
  report: SimulationReport;
  /** The engine's own view of each request (with its timeline), as last read by the runner. */
  views: Map<string, RequestView>;
  callbackBase: string;
}

/** Run scenario YAML (documents beginning with HEADER) against MANIFESTS through the real engine. */
export async function runWithEngine(scenarioYaml: string, opts: { webhookTimeoutMs?: number } = {}): Promise<EngineRun> {
  const dir = writeTree({ 'manifests.yaml': MANIFESTS, 'scenario.yaml': scenarioYaml });
  const loaded = await loadScenarios(['scenario.yaml'], dir);
  const binding = bindManifests(loaded.scenarios, { cwd: dir });
  const problems = [...loaded.diagnostics, ...binding.diagnostics].filter((d) => d.severity === 'error');
  if (problems.length > 0) throw new Error(`invalid test scenario: ${problems.map((d) => `${d.line}:${d.column} ${d.message}`).join('; ')}`);
  const host = await EngineHost.start();
  const views = new Map<string, RequestView>();
  const factory = host.targetFactory((s) => binding.desiredOf(s), { webhookTimeoutMs: opts.webhookTimeoutMs ?? 5_000 });
  // Keep what the runner reads, to look at the engine's timelines afterwards.
  const recording: TargetFactory = async (scenario) => {
    const target = await factory(scenario);
    const get = target.get.bind(target);
    target.get = async (id) => {
      const view = await get(id);
      views.set(id, view as RequestView);
      return view;
    };
    return target;
  };
  try {
    const report = await runScenarios(loaded.scenarios, recording, { scenarioTimeoutMs: 20_000, pollIntervalMs: 5 });
    return { report, views, callbackBase: host.callbackBase };
  } finally {
    await host.close();
  }
}
