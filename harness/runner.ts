import { setupServer } from 'msw/node';
import { describeCall, evaluateRequest, type ExpectationResult, undeclaredCalls } from './expectations.js';
import { simulateEndpoints, type EndpointSimulation } from './handlers.js';
import { Journal, type JournalCall } from './journal.js';
import type { Scenario, ScenarioRequest } from './scenario.js';
import type { RequestView, SimulationTarget, TargetFactory } from './target.js';

export interface RunOptions {
  /** Time for all requests of one scenario to settle (default 60 000 ms). */
  scenarioTimeoutMs?: number;
  /** How often request statuses are read while waiting (default 10 ms). */
  pollIntervalMs?: number;
  /** Called as each scenario finishes, e.g. for progress output. */
  onScenario?: (result: ScenarioResult) => void;
}

/** A webhook call as reported (no headers: they carry secrets). */
export interface ReportedCall {
  seq: number;
  elapsed_ms: number;
  method: string;
  url: string;
  endpoint: number | null;
  step: number | null;
  answer: string;
  summary: string;
}

export interface RequestResult {
  /** Position in the scenario's requests. */
  index: number;
  name: string;
  request_id: string | null;
  /** Final status; null when the request could not be submitted. */
  status: string | null;
  pass: boolean;
  duration_ms: number;
  expectations: ExpectationResult[];
  calls: ReportedCall[];
}

export interface ScenarioResult {
  name: string;
  file: string;
  line: number;
  pass: boolean;
  duration_ms: number;
  requests: RequestResult[];
  /** Failures that belong to no single request (an undeclared call without a privacy_request_id). */
  errors: ExpectationResult[];
}

export interface SimulationReport {
  scenarios: ScenarioResult[];
  passed: number;
  failed: number;
  duration_ms: number;
}

/**
 * Run scenarios one after another. Per scenario: a target on a throwaway state, the scenario's
 * endpoints installed in one process-wide MSW server, requests submitted, then checked once every
 * request has settled (or the deadline passed). A target factory error (invalid manifests, an
 * unresolvable secret) ends the run: it is the caller's to report.
 */
export async function runScenarios(scenarios: Scenario[], createTarget: TargetFactory, opts: RunOptions = {}): Promise<SimulationReport> {
  const started = Date.now();
  // Nothing may leave the process: every scenario installs a catch-all, and between scenarios
  // an unexpected outbound call is an error rather than a request to the real network.
  const server = setupServer();
  server.listen({ onUnhandledRequest: 'error' });
  const results: ScenarioResult[] = [];
  try {
    for (const scenario of scenarios) {
      const target = await createTarget(scenario);
      const journal = new Journal();
      const simulation = simulateEndpoints(scenario, { journal, target, pollIntervalMs: opts.pollIntervalMs });
      server.resetHandlers(...simulation.handlers);
      try {
        const result = await runScenario(scenario, target, simulation, journal, opts);
        results.push(result);
        opts.onScenario?.(result);
      } finally {
        simulation.dispose();
        server.resetHandlers();
        await target.close();
      }
    }
  } finally {
    server.close();
  }
  const passed = results.filter((r) => r.pass).length;
  return { scenarios: results, passed, failed: results.length - passed, duration_ms: Date.now() - started };
}

interface Submitted {
  request: ScenarioRequest;
  index: number;
  id: string | null;
  submitError: string | null;
  submittedAt: number;
  view: RequestView | null;
  settledAt: number | null;
}

async function runScenario(scenario: Scenario, target: SimulationTarget, simulation: EndpointSimulation, journal: Journal, opts: RunOptions): Promise<ScenarioResult> {
  const started = Date.now();
  const timeoutMs = opts.scenarioTimeoutMs ?? 60_000;
  const pollMs = opts.pollIntervalMs ?? 10;
  const submitted: Submitted[] = [];
  for (const [index, request] of scenario.requests.entries()) {
    const entry: Submitted = { request, index, id: null, submitError: null, submittedAt: Date.now(), view: null, settledAt: null };
    try {
      entry.id = await target.submit(request.policy_key, request.identity);
    } catch (error) {
      entry.submitError = error instanceof Error ? error.message : String(error);
    }
    submitted.push(entry);
  }

  // Settled: finished, or paused with no resume callback still on its way.
  const deadline = started + timeoutMs;
  for (;;) {
    const waiting = submitted.filter((s) => s.id !== null && s.settledAt === null);
    await Promise.all(
      waiting.map(async (s) => {
        const view = await target.get(s.id as string);
        s.view = view;
        const stopped = view.status === 'complete' || view.status === 'error' || view.status === 'paused';
        if (stopped && simulation.pendingResumes(view.id) === 0) s.settledAt = Date.now();
      }),
    );
    if (waiting.every((s) => s.settledAt !== null) || Date.now() >= deadline) break;
    await new Promise((resolve) => setTimeout(resolve, pollMs));
  }

  const requests = submitted.map((s) => requestResult(s, scenario, simulation, journal, timeoutMs));
  const errors = scenario.strict ? undeclaredCalls(journal.calls.filter((c) => c.privacy_request_id === null)) : [];
  return {
    name: scenario.name,
    file: scenario.file,
    line: scenario.line,
    pass: errors.length === 0 && requests.every((r) => r.pass),
    duration_ms: Date.now() - started,
    requests,
    errors,
  };
}

function requestResult(s: Submitted, scenario: Scenario, simulation: EndpointSimulation, journal: Journal, timeoutMs: number): RequestResult {
  const base = { index: s.index, name: s.request.name, request_id: s.id };
  if (s.id === null || s.view === null) {
    const failure = { name: 'submit', pass: false, expected: 'accepted', actual: s.submitError, message: `the request could not be submitted: ${s.submitError}` };
    return { ...base, status: null, pass: false, duration_ms: 0, expectations: [failure], calls: [] };
  }
  const calls = journal.callsOf(s.id);
  const expectations = evaluateRequest(s.request.expect, { view: s.view, calls, resumes: journal.resumesOf(s.id) }, { strict: scenario.strict });
  if (s.settledAt === null) {
    const pending = simulation.pendingResumes(s.id);
    expectations.unshift({
      name: 'settled',
      pass: false,
      expected: 'complete, error, or paused with no resume pending',
      actual: `${s.view.status}${pending > 0 ? ` (${pending} resume callback${pending === 1 ? '' : 's'} pending)` : ''}`,
      message: `the request did not settle within ${timeoutMs} ms`,
    });
  }
  return {
    ...base,
    status: s.view.status,
    pass: expectations.every((e) => e.pass),
    duration_ms: (s.settledAt ?? Date.now()) - s.submittedAt,
    expectations,
    calls: calls.map(reportedCall),
  };
}

function reportedCall(c: JournalCall): ReportedCall {
  return { seq: c.seq, elapsed_ms: c.elapsed_ms, method: c.method, url: c.url, endpoint: c.endpoint, step: c.step, answer: c.answer, summary: describeCall(c) };
}
