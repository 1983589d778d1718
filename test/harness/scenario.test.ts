import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadScenarios } from '../../harness/scenario.js';
import { loadText, writeTree } from './helpers.js';

const CONTRACT_EXAMPLE = `name: two-way halt then resume with a derived phone number
manifests: ../manifests
env: { IDENTITY_HOOK_TOKEN: test-token }
endpoints:
  - url: https://identity.example.com/hooks/privacy
    respond: { status: 200, body: { halt: true } }
    then:
      resume: { after_ms: 20, body: { derived_identity: { phone_number: "+15555550100" } } }
  - url: https://cache.example.com/bust
    respond: { status: 204, delay_ms: 5 }
  - url: https://flaky.example.com/hook
    fault: timeout
requests:
  - policy_key: default_access_policy
    identity: { email: customer-1@example.com }
    expect:
      status: complete
      identity: { phone_number: "+15555550100" }
      calls:
        - { url: https://identity.example.com/hooks/privacy, callback_type: pre, direction: two_way,
            headers: { Authorization: test-token, reply-to: present } }
        - { url: https://cache.example.com/bust, callback_type: post }
      resume: { status: 200 }
`;

describe('loadScenarios', () => {
  it('loads the contract example with every default applied', async () => {
    const { scenarios, diagnostics, dir } = await loadText(CONTRACT_EXAMPLE, 'scenarios/halt.yaml');
    expect(diagnostics).toEqual([]);
    expect(scenarios).toHaveLength(1);
    const s = scenarios[0]!;
    expect(s.name).toBe('two-way halt then resume with a derived phone number');
    expect(s.file).toBe('scenarios/halt.yaml');
    expect(s.manifests).toEqual([path.join(dir, 'manifests')]);
    expect(s.env).toEqual({ IDENTITY_HOOK_TOKEN: 'test-token' });
    expect(s.strict).toBe(true);
    expect(s.endpoints[0]).toEqual({
      url: 'https://identity.example.com/hooks/privacy',
      method: 'POST',
      answer: {
        respond: { status: 200, body: { halt: true }, headers: {}, delay_ms: 0 },
        fault: null,
        resume: { after_ms: 20, body: { derived_identity: { phone_number: '+15555550100' } }, token: 'valid' },
      },
      times: [],
    });
    expect(s.endpoints[1]!.answer.respond).toEqual({ status: 204, body: undefined, headers: {}, delay_ms: 5 });
    expect(s.endpoints[2]!.answer).toEqual({ respond: null, fault: 'timeout', resume: null });
    const request = s.requests[0]!;
    expect(request.name).toBe('default_access_policy customer-1@example.com');
    // Header names are matched case-insensitively: stored lower-cased.
    expect(request.expect.calls![0]!.headers).toEqual({ authorization: 'test-token', 'reply-to': 'present' });
    expect(request.expect.status).toBe('complete');
  });

  it('defaults: no expect means status complete; no endpoints; then.resume token valid and body {}', async () => {
    const { scenarios, diagnostics } = await loadText(`name: minimal
strict: false
endpoints:
  - url: https://a.example.com/h
    method: PUT
    times:
      - then: { resume: {} }
      - respond: { status: 500 }
requests:
  - { name: first, policy_key: p, identity: { phone_number: "+1555" } }
`);
    expect(diagnostics).toEqual([]);
    const s = scenarios[0]!;
    expect(s.strict).toBe(false);
    expect(s.manifests).toBeNull();
    expect(s.requests[0]).toMatchObject({ name: 'first', expect: { status: 'complete' } });
    const endpoint = s.endpoints[0]!;
    expect(endpoint.method).toBe('PUT');
    // A step without respond/fault answers like the endpoint, with the step's own `then`.
    expect(endpoint.answer).toEqual({ respond: null, fault: null, resume: null });
    expect(endpoint.times[0]).toEqual({ respond: null, fault: null, resume: { after_ms: 0, body: {}, token: 'valid' } });
    expect(endpoint.times[1]).toEqual({ respond: { status: 500, body: undefined, headers: {}, delay_ms: 0 }, fault: null, resume: null });
  });

  it('reads every document of a file and every file of a folder, in sorted order', async () => {
    const one = 'endpoints: []\nrequests: [{ policy_key: p, identity: { email: a@example.com } }]\n';
    const dir = writeTree({
      'suite/b.yaml': `name: b1\n${one}---\nname: b2\n${one}`,
      'suite/a.yml': `name: a\n${one}`,
      'suite/notes.txt': 'not a scenario',
    });
    const { scenarios, diagnostics } = await loadScenarios(['suite'], dir);
    expect(diagnostics).toEqual([]);
    expect(scenarios.map((s) => [s.name, s.file, s.document, s.line])).toEqual([
      ['a', 'suite/a.yml', 0, 1],
      ['b1', 'suite/b.yaml', 0, 1],
      ['b2', 'suite/b.yaml', 1, 5],
    ]);
  });

  it('reports schema errors at their position, with a did-you-mean, and returns no scenarios', async () => {
    const { scenarios, diagnostics } = await loadText(`name: typo
endpoints:
  - url: https://a.example.com/h
    fault: timout
    respnd: { status: 200 }
requests:
  - policy_key: p
    identity: {}
`);
    expect(scenarios).toEqual([]);
    const byCode = diagnostics.map((d) => [d.code, d.line, d.column, d.path]);
    expect(byCode).toContainEqual(['invalid-value', 4, 12, 'endpoints[0].fault']);
    expect(byCode).toContainEqual(['unknown-field', 5, 5, 'endpoints[0].respnd']);
    expect(byCode).toContainEqual(['invalid-value', 8, 15, 'requests[0].identity']);
    expect(diagnostics.find((d) => d.code === 'invalid-value' && d.line === 4)!.message).toMatch(/timeout/);
    expect(diagnostics.find((d) => d.code === 'unknown-field')!.message).toMatch(/did you mean 'respond'/i);
    expect(diagnostics.find((d) => d.path === 'requests[0].identity')!.message).toBe('identity needs an email or a phone_number');
  });

  it('reports what the schema cannot express, positioned', async () => {
    const { scenarios, diagnostics } = await loadText(`name: contradictions
endpoints:
  - url: https://a.example.com/h
    fault: status
  - url: https://b.example.com/h
    fault: network_error
    respond: { status: 200 }
  - url: https://c.example.com/h
    fault: malformed_body
    respond: { status: 200, body: { halt: false } }
  - url: https://a.example.com/h
  - url: https://d.example.com/h
    times:
      - respond: { status: 204, body: nope }
  - url: "https://exa mple.com/h"
requests:
  - policy_key: p
    identity: { email: a@example.com }
    expect:
      resume: { status: 200 }
`);
    expect(scenarios).toEqual([]);
    const found = diagnostics.map((d) => [d.severity, d.code, d.line, d.column, d.path]);
    expect(found).toEqual([
      ['error', 'fault-needs-status', 4, 12, 'endpoints[0].fault'],
      ['error', 'respond-never-sent', 7, 5, 'endpoints[1].respond'],
      ['error', 'respond-never-sent', 10, 29, 'endpoints[2].respond.body'],
      ['error', 'duplicate-endpoint', 11, 10, 'endpoints[3].url'],
      ['error', 'body-not-allowed', 14, 33, 'endpoints[4].times[0].respond.body'],
      ['error', 'invalid-url', 15, 10, 'endpoints[5].url'],
      ['error', 'resume-without-callback', 20, 7, 'requests[0].expect.resume'],
    ]);
    expect(diagnostics[0]!.message).toContain('respond.status');
    expect(diagnostics[0]!.hint).toBeDefined();
    expect(diagnostics[3]!.message).toBe('endpoint POST https://a.example.com/h is already declared at endpoints[0]');
  });

  it('warns about an expected call to an endpoint no one declares (strict mode), without failing', async () => {
    const { scenarios, diagnostics } = await loadText(`name: w
endpoints: [{ url: https://a.example.com/h }]
requests:
  - policy_key: p
    identity: { email: a@example.com }
    expect:
      calls: [{ url: https://b.example.com/h }]
`);
    expect(scenarios).toHaveLength(1);
    expect(diagnostics.map((d) => [d.severity, d.code, d.line, d.column])).toEqual([['warning', 'undeclared-endpoint', 7, 22]]);
  });

  it('reports YAML syntax errors and missing paths', async () => {
    const { scenarios, diagnostics } = await loadText('name: [unclosed\nrequests: []\n');
    expect(scenarios).toEqual([]);
    expect(diagnostics[0]).toMatchObject({ code: 'yaml-syntax', severity: 'error', file: 'scenario.yaml' });
    expect(diagnostics[0]!.line).toBeGreaterThan(0);

    const missing = await loadScenarios(['nope.yaml'], writeTree({}));
    expect(missing.diagnostics).toMatchObject([{ code: 'missing-path', file: 'nope.yaml', severity: 'error' }]);
  });

  it('keeps file sources for positioned rendering', async () => {
    const { sources } = await loadText(CONTRACT_EXAMPLE);
    expect(sources.get('scenario.yaml')).toBe(CONTRACT_EXAMPLE);
  });
});
