import { describe, expect, it } from 'vitest';
import { formatReport, junitReport, textReport } from '../../harness/reporters.js';
import { runScenarios, type ScenarioResult } from '../../harness/runner.js';
import { fakeEngineFactory, type FakeWebhook } from './fake-target.js';
import { parseXml, scenariosFrom } from './helpers.js';

// The fake engine (a test double, see fake-target.ts) runs these policies.
const identity: FakeWebhook = { key: 'identity', url: 'https://identity.example.com/hooks/privacy', callback_type: 'pre', direction: 'two_way', authorization_env: 'IDENTITY_HOOK_TOKEN' };
const cache: FakeWebhook = { key: 'cache', url: 'https://cache.example.com/bust', callback_type: 'post', direction: 'one_way' };
const flaky: FakeWebhook = { key: 'flaky', url: 'https://flaky.example.com/hook', callback_type: 'pre', direction: 'two_way' };
const policies = {
  default_access_policy: [identity, cache],
  flaky_policy: [flaky, cache],
  twice_policy: [flaky, flaky],
};

async function run(yaml: string, opts: { webhookTimeoutMs?: number; scenarioTimeoutMs?: number } = {}) {
  const scenarios = await scenariosFrom(yaml);
  const factory = fakeEngineFactory(policies, { webhookTimeoutMs: opts.webhookTimeoutMs ?? 2000 });
  const report = await runScenarios(scenarios, factory, { scenarioTimeoutMs: opts.scenarioTimeoutMs ?? 10_000, pollIntervalMs: 5 });
  expect(factory.made.every((t) => t.closed)).toBe(true);
  return report;
}

const failedNames = (s: ScenarioResult) => [...s.requests.flatMap((r) => r.expectations), ...s.errors].filter((e) => !e.pass).map((e) => e.name);

const HALT_AND_RESUME = `name: two-way halt then resume with a derived phone number
env: { IDENTITY_HOOK_TOKEN: test-token }
endpoints:
  - url: https://identity.example.com/hooks/privacy
    respond: { status: 200, body: { halt: true } }
    then:
      resume: { after_ms: 20, body: { derived_identity: { phone_number: "+15555550100" } } }
  - url: https://cache.example.com/bust
    respond: { status: 204, delay_ms: 5 }
requests:
  - policy_key: default_access_policy
    identity: { email: customer-1@example.com }
    expect:
      status: complete
      identity: { phone_number: "+15555550100" }
      calls:
        - { url: https://identity.example.com/hooks/privacy, callback_type: pre, direction: two_way,
            headers: { authorization: test-token, reply-to: present, content-type: application/json } }
        - { url: https://cache.example.com/bust, callback_type: post, headers: { reply-to: absent },
            body: { identity: { email: customer-1@example.com, phone_number: "+15555550100" } } }
      resume: { status: 200 }
`;

describe('runScenarios (with the fake engine test double)', () => {
  it('runs the contract example: halt, resume with a derived identity, complete; every expectation passes', async () => {
    const report = await run(HALT_AND_RESUME);
    const [scenario] = report.scenarios;
    expect(failedNames(scenario!)).toEqual([]);
    expect(report).toMatchObject({ passed: 1, failed: 0 });
    const request = scenario!.requests[0]!;
    expect(request).toMatchObject({ index: 0, status: 'complete', pass: true });
    expect(request.request_id).toMatch(/^pri_/);
    expect(request.calls.map((c) => [c.seq, c.endpoint, c.answer])).toEqual([[1, 0, '200'], [2, 1, '204']]);
    const text = textReport(report, undefined, { verbose: true });
    expect(text).toContain('✓ two-way halt then resume with a derived phone number');
    expect(text).toContain('✓ identity.phone_number +15555550100');
    expect(text).toContain('✓ resume.status 200');
    expect(text.trimEnd().endsWith('1 scenario, 1 passed, 0 failed')).toBe(true);
    // The endpoint's authorization value is never printed.
    expect(text).not.toContain('test-token');
    expect(formatReport(report, 'json', { color: false })).not.toContain('test-token');
  });

  it('every fault reaches the engine as the contract describes it', async () => {
    const scenario = (name: string, endpoint: string, reason: string) => `name: ${name}
endpoints:
  - { url: https://flaky.example.com/hook, ${endpoint} }
  - { url: https://cache.example.com/bust }
requests:
  - policy_key: flaky_policy
    identity: { email: a@example.com }
    expect: { status: error, failure_reason: "${reason}", calls: [{ url: https://flaky.example.com/hook }] }
`;
    const report = await run(
      [
        scenario('timeout', 'fault: timeout', "webhook 'flaky' failed: TimeoutError"),
        scenario('network error', 'fault: network_error', "webhook 'flaky' failed: TypeError"),
        scenario('status', 'fault: status, respond: { status: 503 }', 'returned HTTP 503'),
        scenario('malformed body', 'fault: malformed_body', 'invalid response'),
      ].join('---\n'),
      { webhookTimeoutMs: 150 },
    );
    expect(report.scenarios.map((s) => [s.name, s.pass, failedNames(s)])).toEqual([
      ['timeout', true, []],
      ['network error', true, []],
      ['status', true, []],
      ['malformed body', true, []],
    ]);
    // The timeout scenario took the engine's timeout, not the scenario deadline.
    expect(report.scenarios[0]!.duration_ms).toBeLessThan(2000);
  });

  it('times: call n of an endpoint gets step n, and the endpoint’s own answer after that', async () => {
    const report = await run(`name: second call fails
endpoints:
  - url: https://flaky.example.com/hook
    respond: { status: 200, body: { halt: false, derived_identity: { phone_number: "+1000" } } }
    times:
      - respond: { status: 200, body: { halt: false, derived_identity: { phone_number: "+1111" } } }
      - fault: status
        respond: { status: 500 }
requests:
  - policy_key: twice_policy
    identity: { email: a@example.com }
    expect: { status: error, failure_reason: HTTP 500, identity: { phone_number: "+1111" } }
---
name: third call uses the endpoint's own answer
endpoints:
  - url: https://flaky.example.com/hook
    respond: { status: 200, body: { halt: false, derived_identity: { phone_number: "+1000" } } }
    times:
      - respond: { status: 200 }
      - respond: { status: 200 }
requests:
  - { policy_key: twice_policy, identity: { email: a@example.com }, expect: { identity: { phone_number: null } } }
  - { policy_key: twice_policy, identity: { email: b@example.com }, expect: { identity: { phone_number: "+1000" } } }
`);
    expect(report.scenarios.map((s) => [s.pass, failedNames(s)])).toEqual([[true, []], [false, ['identity.phone_number']]]);
    // Requests run concurrently, so which one got the third call is up to timing; one of them failed.
    const second = report.scenarios[1]!;
    const steps = second.requests.flatMap((r) => r.calls).sort((a, b) => a.seq - b.seq).map((c) => c.step);
    expect(steps).toEqual([0, 1, null, null]);
  });

  it('delay_ms delays the answer the engine sees', async () => {
    const report = await run(`name: slow
endpoints:
  - { url: https://identity.example.com/hooks/privacy, respond: { status: 200, delay_ms: 150 } }
  - { url: https://cache.example.com/bust }
requests: [{ policy_key: default_access_policy, identity: { email: a@example.com } }]
`);
    expect(report.scenarios[0]!.pass).toBe(true);
    const [first, second] = report.scenarios[0]!.requests[0]!.calls;
    expect(second!.elapsed_ms - first!.elapsed_ms).toBeGreaterThanOrEqual(145);
  });

  it('resume variants are sent and their answers checked: expired, tampered, reuse', async () => {
    const variant = (token: string, status: string, resumeStatus: number) => `name: ${token} token
endpoints:
  - url: https://identity.example.com/hooks/privacy
    respond: { status: 200, body: { halt: true } }
    then: { resume: { after_ms: 5, token: ${token} } }
  - { url: https://cache.example.com/bust }
requests:
  - policy_key: default_access_policy
    identity: { email: a@example.com }
    expect: { status: ${status}, resume: { status: ${resumeStatus} } }
`;
    const report = await run([variant('expired', 'paused', 403), variant('tampered', 'paused', 403), variant('reuse', 'complete', 400)].join('---\n'));
    expect(report.scenarios.map((s) => [s.name, failedNames(s)])).toEqual([
      ['expired token', []],
      ['tampered token', []],
      ['reuse token', []],
    ]);
  });

  it('a halt without resume settles as paused', async () => {
    const report = await run(`name: paused
endpoints:
  - { url: https://identity.example.com/hooks/privacy, respond: { status: 200, body: { halt: true } } }
requests: [{ policy_key: default_access_policy, identity: { email: a@example.com }, expect: { status: paused, calls: [{}] } }]
`);
    expect(failedNames(report.scenarios[0]!)).toEqual([]);
  });

  it('strict mode: a call to an undeclared endpoint fails the scenario; strict: false lets it pass', async () => {
    const yaml = (strict: boolean) => `name: strict ${strict}
strict: ${strict}
endpoints:
  - { url: https://identity.example.com/hooks/privacy, respond: { status: 200 } }
requests:
  - policy_key: default_access_policy
    identity: { email: a@example.com }
    expect: { status: ${strict ? 'error' : 'complete'} }
`;
    const report = await run([yaml(true), yaml(false)].join('---\n'));
    const [strict, lenient] = report.scenarios;
    // Strict: the undeclared call fails like an unreachable host (so the request errors, as
    // expected here) and the scenario fails for the undeclared endpoint itself.
    expect(failedNames(strict!)).toEqual(['strict: undeclared endpoint https://cache.example.com/bust']);
    expect(strict!.requests[0]!.calls.map((c) => c.answer)).toEqual(['200', 'undeclared']);
    // Not strict: answered {} and the request completes.
    expect(lenient!.pass).toBe(true);
    expect(lenient!.requests[0]!.calls.map((c) => c.answer)).toEqual(['200', 'undeclared']);
    expect(report).toMatchObject({ passed: 1, failed: 1 });
  });

  it('a request that never settles fails with "did not settle" at the deadline, and nothing is left running', async () => {
    const report = await run(`name: stuck
endpoints:
  - { url: https://flaky.example.com/hook, fault: timeout }
requests: [{ policy_key: flaky_policy, identity: { email: a@example.com } }]
`, { webhookTimeoutMs: 60_000, scenarioTimeoutMs: 300 });
    const request = report.scenarios[0]!.requests[0]!;
    expect(request.expectations[0]).toEqual({
      name: 'settled', pass: false, expected: 'complete, error, or paused with no resume pending', actual: 'in_processing',
      message: 'the request did not settle within 300 ms',
    });
    expect(report.scenarios[0]!.duration_ms).toBeLessThan(5000);
  });

  it('a request the target refuses is reported, not thrown', async () => {
    const report = await run(`name: unknown policy
requests: [{ policy_key: nope, identity: { email: a@example.com } }]
`);
    expect(report.scenarios[0]!.requests[0]).toMatchObject({
      status: null, pass: false,
      expectations: [{ name: 'submit', pass: false, message: "the request could not be submitted: no policy 'nope'" }],
    });
  });

  it('failing expectations read as a difference in the text report', async () => {
    const report = await run(`name: wrong expectations
env: { IDENTITY_HOOK_TOKEN: real-token }
endpoints:
  - url: https://identity.example.com/hooks/privacy
    respond: { status: 200, body: { halt: false, derived_identity: { phone_number: "+1222" } } }
  - url: https://cache.example.com/bust
requests:
  - policy_key: default_access_policy
    identity: { email: a@example.com }
    expect:
      status: error
      identity: { phone_number: "+1999" }
      calls:
        - { url: https://identity.example.com/hooks/privacy, headers: { authorization: test-token, reply-to: absent } }
`);
    const [scenario] = report.scenarios;
    expect(failedNames(scenario!)).toEqual(['status', 'identity.phone_number', 'calls (count)', 'calls[0].headers.authorization', 'calls[0].headers.reply-to']);
    const text = textReport(report);
    expect(text).toContain([
      '      ✗ status',
      '          expected: error',
      '          actual:   complete',
    ].join('\n'));
    expect(text).toContain([
      '      ✗ identity.phone_number',
      '          expected: +1999',
      '          actual:   +1222',
    ].join('\n'));
    expect(text).toMatch(/✗ calls \(count\) — expected 1 call, the request made 2\n {10}# {2}expected {37}actual\n {10}0 {2}https:\/\/identity\.example\.com\/hooks\/privacy {3}POST https:\/\/identity\.example\.com\/hooks\/privacy pre two_way → 200\n {10}1 {2}— {44}POST https:\/\/cache\.example\.com\/bust post one_way → 200\n/);
    expect(text).toContain([
      '      ✗ calls[0].headers.authorization — a sensitive value: not shown',
      '          expected: (sensitive, 10 characters)',
      '          actual:   (sensitive, 10 characters, different)',
    ].join('\n'));
    expect(text).not.toContain('real-token');
    expect(text.trimEnd().endsWith('1 scenario, 0 passed, 1 failed')).toBe(true);
  });
});

describe('reporters', () => {
  it('junit: well-formed XML with a testsuite per scenario, a testcase per request and a <failure> with the difference', async () => {
    const report = await run(`name: 'escapes <&> "quotes" and ''apostrophes'''
endpoints:
  - { url: https://identity.example.com/hooks/privacy, fault: status, respond: { status: 500, body: "<html>&nbsp;</html>" } }
requests:
  - { name: "first <one>", policy_key: default_access_policy, identity: { email: a@example.com } }
  - { policy_key: default_access_policy, identity: { email: b@example.com }, expect: { status: error, failure_reason: "HTTP 500" } }
---
name: passes
endpoints: [{ url: https://identity.example.com/hooks/privacy }, { url: https://cache.example.com/bust }]
requests: [{ policy_key: default_access_policy, identity: { email: c@example.com } }]
`);
    const xml = junitReport(report);
    const root = parseXml(xml);
    expect(root.name).toBe('testsuites');
    expect(root.attributes).toMatchObject({ tests: '3', failures: '1' });
    const [broken, passing] = root.children;
    expect(broken!.attributes).toMatchObject({ name: `escapes <&> "quotes" and 'apostrophes'`, tests: '2', failures: '1', file: 'scenario.yaml' });
    const [first, second] = broken!.children;
    // Stable across runs: the scenario and the request's index and name, never its random id.
    expect(first!.attributes.name).toBe('requests[0] first <one>');
    expect(second!.attributes.name).toBe('requests[1] default_access_policy b@example.com');
    const failure = first!.children[0]!;
    expect(failure.name).toBe('failure');
    expect(failure.attributes.message).toBe("status: expected complete, got error (failure_reason: webhook 'identity' returned HTTP 500)");
    expect(failure.text).toContain('expected: complete\n    actual:   error');
    expect(failure.text).toMatch(/^privacy request pri_/);
    expect(second!.children).toEqual([]);
    expect(passing!.attributes).toMatchObject({ name: 'passes', tests: '1', failures: '0' });
    expect(passing!.children.map((c) => c.children.length)).toEqual([0]);
  });

  it('junit: characters XML cannot carry are replaced, newlines in attributes survive', () => {
    const xml = junitReport({
      passed: 0, failed: 1, duration_ms: 1,
      scenarios: [{
        name: 'ctl\u0001chars', file: 'f.yaml', line: 1, pass: false, duration_ms: 1, requests: [],
        errors: [{ name: 'strict: undeclared endpoint https://x/?a=1&b=2', pass: false, expected: 'no call', actual: 'multi\nline', message: 'a\nb' }],
      }],
    });
    const root = parseXml(xml);
    const suite = root.children[0]!;
    expect(suite.attributes.name).toBe('ctl\uFFFDchars');
    const failure = suite.children[0]!.children[0]!;
    expect(failure.attributes.message).toBe('strict: undeclared endpoint https://x/?a=1&b=2: expected no call, got multi\nline (a\nb)');
  });

  it('json: the whole report, parseable, with a summary', async () => {
    const report = await run(HALT_AND_RESUME);
    const json = JSON.parse(formatReport(report, 'json', { color: false }));
    expect(json.summary).toMatchObject({ scenarios: 1, passed: 1, failed: 0 });
    expect(json.scenarios[0].requests[0].expectations.length).toBeGreaterThan(5);
    expect(json.scenarios[0].requests[0].calls[0]).toMatchObject({ seq: 1, method: 'POST', url: 'https://identity.example.com/hooks/privacy', answer: '200' });
  });

  it('text: colours only when asked', async () => {
    const report = await run(HALT_AND_RESUME);
    expect(formatReport(report, 'text', { color: false })).not.toContain('\u001b[');
    expect(formatReport(report, 'text', { color: true })).toContain('\u001b[32m✓\u001b[0m');
  });
});
