/**
 * Scenarios against the REAL engine: the reconciler applies the manifests to a throwaway
 * SQLite state, the engine's Worker makes the webhook calls with its own client, MSW answers
 * them, and resumes go to the real API server over loopback HTTP.
 */
import { describe, expect, it } from 'vitest';
import type { ScenarioResult } from '../../harness/runner.js';
import type { TimelineEntry } from '../../src/state/request-types.js';
import { HEADER, runWithEngine, type EngineRun } from './helpers.js';

const failedNames = (s: ScenarioResult) => [...s.requests.flatMap((r) => r.expectations), ...s.errors].filter((e) => !e.pass).map((e) => e.name);

/** The engine's timeline of a scenario's first request, webhook calls only. */
function calls(run: EngineRun, scenario = 0): Pick<TimelineEntry, 'webhook_key' | 'outcome' | 'status_code'>[] {
  const id = run.report.scenarios[scenario]!.requests[0]!.request_id!;
  return run.views
    .get(id)!
    .timeline.filter((t) => t.webhook_key !== null)
    .map(({ webhook_key, outcome, status_code }) => ({ webhook_key, outcome, status_code }));
}

describe('hookctl simulate with the real engine', () => {
  it('intercepts the engine’s own calls to hosts that do not exist, and resumes over real loopback HTTP', async () => {
    const run = await runWithEngine(`name: halt, resume, complete
${HEADER}endpoints:
  - url: https://identity.example.com/hooks/privacy
    respond: { status: 200, body: { halt: true, derived_identity: { email: found@example.org } } }
    then: { resume: { after_ms: 10, body: { derived_identity: { phone_number: "+15555550100" } } } }
  - url: https://cache.example.com/bust
    respond: { status: 204 }
requests:
  - policy_key: access
    identity: { email: customer@example.com }
    expect:
      status: complete
      identity: { email: found@example.org, phone_number: "+15555550100" }
      calls:
        - { url: https://identity.example.com/hooks/privacy, headers: { authorization: identity-secret-4711, reply-to: present } }
        - { url: https://cache.example.com/bust, body: { identity: { email: found@example.org, phone_number: "+15555550100" } } }
      resume: { status: 200 }
`);
    const [scenario] = run.report.scenarios;
    expect(failedNames(scenario!)).toEqual([]);
    expect(run.callbackBase).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    // identity.example.com and cache.example.com do not exist: the engine got these answers
    // (status codes in its own timeline) only because MSW intercepted its fetch.
    expect(calls(run)).toEqual([
      { webhook_key: 'resolve', outcome: 'halt', status_code: 200 },
      { webhook_key: 'bust', outcome: 'continue', status_code: 204 },
    ]);
    // The resume reached the engine through the API's resume route (the only way to leave a pause).
    const view = run.views.get(scenario!.requests[0]!.request_id!)!;
    expect(view.timeline.map((t) => t.outcome)).toEqual(['halt', 'resumed', 'executed', 'continue']);
    // The loopback callback passed through MSW untouched: it is no webhook call.
    expect(scenario!.requests[0]!.calls).toHaveLength(2);
  });

  it('every fault reaches the engine the way the contract describes it', async () => {
    const doc = (name: string, endpoint: string) => `name: ${name}
${HEADER}endpoints:
  - { url: https://identity.example.com/hooks/privacy, ${endpoint} }
requests:
  - { policy_key: access, identity: { email: a@example.com }, expect: { status: error } }
`;
    const started = Date.now();
    const run = await runWithEngine(
      [
        doc('timeout', 'fault: timeout'),
        doc('network error', 'fault: network_error'),
        doc('status', 'fault: status, respond: { status: 502, body: { detail: bad gateway } }'),
        doc('malformed body', 'fault: malformed_body'),
      ].join('---\n'),
      { webhookTimeoutMs: 300 },
    );
    expect(run.report.scenarios.map(failedNames)).toEqual([[], [], [], []]);
    const reasons = run.report.scenarios.map((s) => run.views.get(s.requests[0]!.request_id!)!.failure_reason);
    expect(reasons).toEqual([
      "webhook 'resolve' timed out after 300 ms",
      expect.stringMatching(/^webhook 'resolve' unreachable: /),
      "webhook 'resolve' returned HTTP 502",
      "webhook 'resolve' returned an invalid response: body is not JSON",
    ]);
    expect(run.report.scenarios.map((_, i) => calls(run, i)[0]!.status_code)).toEqual([null, null, 502, 200]);
    // The timeout came from the engine's own deadline, not from the end of the scenario.
    expect(run.report.scenarios[0]!.duration_ms).toBeGreaterThanOrEqual(300);
    expect(Date.now() - started).toBeLessThan(10_000);
  });

  it('strict mode fails a call to an undeclared endpoint like an unreachable host, and the scenario with it', async () => {
    const scenario = (strict: boolean) => `name: strict ${strict}
strict: ${strict}
${HEADER}endpoints:
  - url: https://identity.example.com/hooks/privacy
requests:
  - { policy_key: access, identity: { email: a@example.com } }
`;
    const run = await runWithEngine([scenario(true), scenario(false)].join('---\n'));
    const [strict, lenient] = run.report.scenarios;
    expect(strict!.pass).toBe(false);
    expect(failedNames(strict!)).toEqual(['status', 'strict: undeclared endpoint https://cache.example.com/bust']);
    expect(run.views.get(strict!.requests[0]!.request_id!)!.failure_reason).toMatch(/^webhook 'bust' unreachable/);
    expect(lenient!.pass).toBe(true);
    expect(lenient!.requests[0]!.calls.map((c) => c.answer)).toEqual(['200', 'undeclared']);
    expect(calls(run, 1)).toEqual([
      { webhook_key: 'resolve', outcome: 'continue', status_code: 200 },
      { webhook_key: 'bust', outcome: 'continue', status_code: 200 },
    ]);
  });

  it('refuses expired, tampered and replayed reply-to tokens, with the contract’s status and detail', async () => {
    // Each scenario expects the resume to succeed, so that the failed expectation shows what the server answered.
    const doc = (token: string, extraEndpoint = '') => `name: ${token}
${HEADER}endpoints:
  - url: https://identity.example.com/hooks/privacy
    respond: { status: 200, body: { halt: true } }
    then: { resume: { token: ${token}, body: { derived_identity: { phone_number: "+15555550111" } } } }
${extraEndpoint}requests:
  - { policy_key: access, identity: { email: a@example.com }, expect: { status: complete, resume: { status: 200 } } }
`;
    const run = await runWithEngine([doc('expired'), doc('tampered'), doc('reuse', '  - url: https://cache.example.com/bust\n')].join('---\n'));
    const outcome = (i: number) => {
      const request = run.report.scenarios[i]!.requests[0]!;
      const resume = request.expectations.find((e) => e.name === 'resume.status')!;
      return { status: request.status, resume: resume.actual, message: resume.message, phone: run.views.get(request.request_id!)!.identity.phone_number };
    };
    expect(outcome(0)).toEqual({ status: 'paused', resume: 403, message: 'token: expired: Webhook token expired', phone: null });
    expect(outcome(1)).toEqual({ status: 'paused', resume: 403, message: 'token: tampered: Not Authorized for this action', phone: null });
    // reuse: the first resume went through (identity merged, request completed); the replay is refused.
    expect(outcome(2)).toMatchObject({ status: 'complete', resume: 400, phone: '+15555550111' });
    expect(outcome(2).message).toMatch(/^token: reuse: Invalid resume request: privacy request 'pri_[^']+' status = (in_processing|complete)\.$/);
  });
});
