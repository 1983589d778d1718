/**
 * `hookctl simulate examples/scenarios` as a CLI process: wall time, and what each scenario
 * costs beyond the time its script makes it wait (delays, resume after_ms, timeouts).
 */
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { bindManifests } from '../harness/manifest-binding.js';
import type { SimulationReport } from '../harness/runner.js';
import { loadScenarios, type Answer, type Scenario } from '../harness/scenario.js';
import { resolveSecretInput } from '../src/manifest/secrets.js';
import type { DesiredState } from '../src/manifest/types.js';
import { check, measureCli, table } from './measure.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const SCENARIOS = 'examples/scenarios';
const RUNS = 5;
/** The CLI's default, for connections without timeout_ms. */
const WEBHOOK_TIMEOUT_MS = 30_000;

export async function benchSimulate(): Promise<string> {
  const loaded = await loadScenarios([SCENARIOS], ROOT);
  const binding = bindManifests(loaded.scenarios, { cwd: ROOT });
  const byPlace = new Map(loaded.scenarios.map((s) => [`${s.file}:${s.line}`, s]));

  const walls: number[] = [];
  const runTotals: number[] = [];
  const durations = new Map<string, number[]>();
  let scripted = new Map<string, number>();
  for (let i = 0; i < RUNS; i++) {
    const m = measureCli(['simulate', SCENARIOS, '--reporter', 'json'], { cwd: ROOT, env: {} });
    const report = JSON.parse(m.stdout) as { summary: { duration_ms: number }; scenarios: SimulationReport['scenarios'] };
    walls.push(m.ms);
    runTotals.push(report.summary.duration_ms);
    scripted = new Map(
      report.scenarios.map((s) => {
        const scenario = byPlace.get(`${s.file}:${s.line}`)!;
        return [s.name, scriptedMs(s, scenario, binding.desiredOf(scenario))];
      }),
    );
    for (const s of report.scenarios) durations.set(s.name, [...(durations.get(s.name) ?? []), s.duration_ms]);
  }

  const rows = [...durations].map(([name, ms]) => {
    const script = scripted.get(name)!;
    return [name.length > 60 ? `${name.slice(0, 59)}…` : name, script, Math.min(...ms), median(ms), median(ms) - script];
  });
  const fixed = walls.map((w, i) => w - runTotals[i]!);
  const count = durations.size;
  const totalScripted = [...scripted.values()].reduce((a, b) => a + b, 0);
  // The runner's total also holds each scenario's setup (state, apply, worker) and teardown.
  const perScenario = (median(runTotals) - totalScripted) / count;
  const overheads = rows.map((r) => r[4] as number);
  const typical = median(overheads);
  return [
    `Simulation (\`hookctl simulate ${SCENARIOS}\`, ${count} scenarios, ${RUNS} runs; wall = the CLI process, ms)`,
    table(['', 'min', 'median'], [
      ['wall (process)', Math.min(...walls), median(walls)],
      ['runner total', Math.min(...runTotals), median(runTotals)],
      ['fixed cost (start, module loads, server)', Math.min(...fixed), median(fixed)],
    ]),
    `per scenario, setup and teardown included: ${perScenario.toFixed(1)} ms beyond the scripted ${totalScripted} ms in all`,
    '',
    table(['scenario', 'scripted', 'min', 'median', 'overhead (median − scripted)'], rows),
    check('median scenario overhead ≤ 50 ms', typical <= 50, `${typical.toFixed(1)} ms`),
    check('per scenario with setup ≤ 100 ms', perScenario <= 100, `${perScenario.toFixed(1)} ms`),
  ].join('\n');
}

/**
 * What the script makes a scenario wait: per request, the delays, resume after_ms and
 * timeouts of the answers its calls got (in sequence); requests run side by side, so the
 * longest request's.
 */
function scriptedMs(result: SimulationReport['scenarios'][number], scenario: Scenario, desired: DesiredState): number {
  const timeouts = new Map(desired.connections.map((c) => [resolveSecretInput(c.secrets.url, scenario.env), c.timeout_ms ?? WEBHOOK_TIMEOUT_MS]));
  const perRequest = result.requests.map((r) =>
    r.calls.reduce((sum, call) => {
      if (call.endpoint === null) return sum;
      const endpoint = scenario.endpoints[call.endpoint]!;
      const answer: Answer = call.step === null ? endpoint.answer : endpoint.times[call.step]!;
      const wait = answer.fault === 'timeout' ? (timeouts.get(call.url) ?? WEBHOOK_TIMEOUT_MS) : (answer.respond?.delay_ms ?? 0);
      return sum + wait + (answer.resume?.after_ms ?? 0);
    }, 0),
  );
  return Math.max(0, ...perRequest);
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

