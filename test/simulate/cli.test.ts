/** `hookctl simulate` as a user runs it: the built CLI, exit codes 0/3/4, reporters, the examples. */
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { runCli } from '../helpers/cli.js';
import { parseXml, writeTree, type XmlElement } from '../harness/helpers.js';
import { HEADER, MANIFESTS } from './helpers.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
/** The secret values the examples' scenarios give their manifests. */
const EXAMPLE_SECRETS = ['identity-test-token', 'warehouse-test-token', 'audit-test-token', 'cache-test-token'];

const simulate = (args: string[], cwd = ROOT, env: Record<string, string> = {}) => runCli(['simulate', ...args], { cwd, env, timeoutMs: 60_000 });

function all(element: XmlElement, name: string): XmlElement[] {
  return [...(element.name === name ? [element] : []), ...element.children.flatMap((c) => all(c, name))];
}

describe('hookctl simulate (built CLI)', () => {
  it('runs the examples: every scenario passes, exit 0, no secret value in the output', async () => {
    const started = Date.now();
    const res = await simulate(['examples/scenarios']);
    const elapsed = Date.now() - started;
    expect(res.stderr).toBe('');
    expect(res.code).toBe(0);
    const count = fs.readdirSync(path.join(ROOT, 'examples/scenarios')).length;
    expect(res.stdout).toMatch(/\n(\d+) scenarios, \1 passed, 0 failed\n$/);
    expect(Number(/(\d+) scenarios,/.exec(res.stdout)![1])).toBeGreaterThan(count);
    for (const secret of EXAMPLE_SECRETS) expect(res.stdout).not.toContain(secret);
    console.log(`hookctl simulate examples/scenarios: ${elapsed} ms`);
  });

  it('exits 4 when an expectation fails; --output writes a well-formed JUnit report with failure elements', async () => {
    const dir = writeTree({});
    const out = path.join(dir, 'reports', 'simulate.xml');
    const res = await simulate(['examples/scenarios-failing', '--reporter', 'junit', '--output', out]);
    expect(res.code).toBe(4);
    // The text report still goes to stdout, for the job log.
    expect(res.stdout).toContain('✗ the identity service is down, but the scenario expects the request to complete');
    expect(res.stdout).toMatch(/2 scenarios, 0 passed, 2 failed\n$/);
    const xml = fs.readFileSync(out, 'utf8');
    const root = parseXml(xml);
    expect(root.name).toBe('testsuites');
    expect(root.attributes).toMatchObject({ tests: '2', failures: '2' });
    const failures = all(root, 'failure');
    expect(failures).toHaveLength(2);
    expect(failures[0]!.attributes.message).toContain('status: expected complete, got error');
    expect(failures[0]!.text).toContain("failure_reason: webhook 'resolve_identity' returned HTTP 503");
    expect(failures[1]!.attributes.message).toContain('strict: undeclared endpoint https://warehouse.example.com/hooks/wake');
    for (const secret of EXAMPLE_SECRETS) expect(xml + res.stdout + res.stderr).not.toContain(secret);
  });

  it('text: one line per passing scenario; --verbose prints every expectation', async () => {
    const scenario = 'examples/scenarios/two-way-pre-halt.yaml';
    const res = await simulate([scenario]);
    expect(res.code).toBe(0);
    const lines = res.stdout.trimEnd().split('\n');
    expect(lines).toHaveLength(3);
    expect(lines[0]).toMatch(new RegExp(`^✓ .+ \\(${scenario}:\\d+, \\d+ ms\\)$`));
    expect(lines.slice(1)).toEqual(['', '1 scenario, 1 passed, 0 failed']);
    const verbose = await simulate([scenario, '--verbose']);
    expect(verbose.stdout).toMatch(/\n {2}✓ requests\[0\] .+ \(pri_\S+\) → paused\n {6}✓ status paused\n/);
  });

  it('text: a failed scenario shows its failed requests and failed expectations only', async () => {
    const res = await simulate(['examples/scenarios-failing']);
    expect(res.code).toBe(4);
    expect(res.stdout).toMatch(/\n {6}✗ status — failure_reason: webhook 'resolve_identity' returned HTTP 503\n {10}expected: complete\n {10}actual: {3}error\n/);
    expect(res.stdout).not.toMatch(/^ +✓/m);
  });

  it('junit: test case names are the same in every run (scenario and request index, no request id)', async () => {
    const names = async () => {
      const res = await simulate(['examples/scenarios/several-requests.yaml', '--reporter', 'junit']);
      expect(res.code).toBe(0);
      return all(parseXml(res.stdout), 'testcase').map((c) => `${c.attributes.classname} / ${c.attributes.name}`);
    };
    const first = await names();
    expect(first.length).toBeGreaterThan(1);
    first.forEach((name, i) => expect(name).toMatch(new RegExp(`/ requests\\[${i}\\] `)));
    expect(first.join('\n')).not.toContain('pri_');
    expect(await names()).toEqual(first);
  });

  it('--reporter json prints the whole report on stdout', async () => {
    const res = await simulate(['examples/scenarios/two-way-pre-halt.yaml', '--reporter', 'json']);
    expect(res.code).toBe(0);
    const report = JSON.parse(res.stdout) as { summary: Record<string, number>; scenarios: { requests: { status: string; calls: unknown[] }[] }[] };
    expect(report.summary).toMatchObject({ scenarios: 1, passed: 1, failed: 0 });
    expect(report.scenarios[0]!.requests[0]).toMatchObject({ status: 'paused', calls: [expect.objectContaining({ answer: '200' })] });
  });

  describe('exit 3: nothing runs when a scenario or its manifests are invalid', () => {
    const tree = (scenario: string, manifests = MANIFESTS) => writeTree({ 'manifests.yaml': manifests, 'scenarios/s.yaml': scenario });
    const valid = `name: valid\n${HEADER.replace('manifests: manifests.yaml', 'manifests: ../manifests.yaml')}endpoints: [{ url: https://identity.example.com/hooks/privacy }, { url: https://cache.example.com/bust }]\nrequests:\n  - { policy_key: access, identity: { email: a@example.com } }\n`;

    it('a scenario that does not match the schema, positioned', async () => {
      const dir = writeTree({ 'manifests.yaml': MANIFESTS, 'scenarios/s.yaml': `name: bad\nmanifests: ../manifests.yaml\nrequests:\n  - { policy_key: access, identity: {} }\n` });
      const res = await simulate(['scenarios'], dir);
      expect(res.code).toBe(3);
      expect(res.stderr).toContain('scenarios/s.yaml:4:');
      expect(res.stderr).toContain('needs an email or a phone_number');
      expect(res.stderr).toContain('error: scenarios are invalid; nothing was run');
      expect(res.stdout).toBe('');
    });

    it('invalid manifests, with their own diagnostics', async () => {
      const dir = tree(valid, MANIFESTS.replace('direction: two_way', 'direction: both_ways'));
      const res = await simulate(['scenarios'], dir);
      expect(res.code).toBe(3);
      expect(res.stderr).toMatch(/manifests\.yaml:\d+:\d+: error/);
      expect(res.stderr).toContain('error: scenarios cannot run against their manifests; nothing was run');
    });

    it('a secret ref the scenario’s env does not set, even when the process environment does', async () => {
      const dir = tree(valid.replace('CACHE_TOKEN: cache-secret-4712', 'OTHER: x'));
      const res = await simulate(['scenarios'], dir, { CACHE_TOKEN: 'from-the-process-env' });
      expect(res.code).toBe(3);
      expect(res.stderr).toContain("scenario 'valid': secret ref env CACHE_TOKEN (connection 'cache', secrets.authorization) is not set");
      expect(res.stderr).toContain("add CACHE_TOKEN to the scenario's env");
      expect(res.stderr).not.toContain('from-the-process-env');
    });

    it('a request for a policy the manifests do not declare, with a suggestion', async () => {
      const dir = tree(valid.replace('policy_key: access', 'policy_key: acess'));
      const res = await simulate(['scenarios'], dir);
      expect(res.code).toBe(3);
      expect(res.stderr).toContain('scenarios/s.yaml:6:19: error[unknown-policy]');
      expect(res.stderr).toContain("policy 'acess' is not declared in its manifests; did you mean 'access'?");
    });

    it('a scenario without manifests; --manifests gives them to every scenario', async () => {
      const dir = tree(valid.replace('manifests: ../manifests.yaml\n', ''));
      const without = await simulate(['scenarios'], dir);
      expect(without.code).toBe(3);
      expect(without.stderr).toContain("scenario 'valid': names no manifests to run against");
      const withFlag = await simulate(['scenarios', '--manifests', 'manifests.yaml'], dir);
      expect(withFlag.stderr).toBe('');
      expect(withFlag.code).toBe(0);
      // One path per --manifests: the scenario path written after it stays a scenario path.
      const flagFirst = await simulate(['--manifests', 'manifests.yaml', 'scenarios/s.yaml'], dir);
      expect(flagFirst.stderr).toBe('');
      expect(flagFirst.code).toBe(0);
      expect(flagFirst.stdout).toMatch(/^✓ valid \(scenarios\/s\.yaml:1, \d+ ms\)\n\n1 scenario, 1 passed, 0 failed\n$/);
      // Repeated, the flag adds paths: the second file declares the same again, which validation refuses.
      fs.writeFileSync(path.join(dir, 'again.yaml'), MANIFESTS);
      const twice = await simulate(['--manifests', 'manifests.yaml', '--manifests', 'again.yaml', 'scenarios'], dir);
      expect(twice.code).toBe(3);
      expect(twice.stderr).toContain('again.yaml');
    });

    it('a manifests path that does not exist, at the scenario line naming it', async () => {
      const dir = tree(valid.replace('manifests: ../manifests.yaml', 'manifests: ../manifest.yaml'));
      const res = await simulate(['scenarios'], dir);
      expect(res.code).toBe(3);
      expect(res.stderr).toContain(`scenarios/s.yaml:2:12: error[missing-manifests]: scenario 'valid': manifest path ${path.join(dir, 'manifest.yaml')} does not exist`);
    });

    it('no scenario at all', async () => {
      const dir = writeTree({ 'scenarios/.keep': '' });
      const res = await simulate(['scenarios'], dir);
      expect(res.code).toBe(3);
      expect(res.stderr).toContain('error: no scenarios to run');
    });
  });

  it('rejects a --webhook-timeout that is not a duration (exit 64)', async () => {
    const res = await simulate(['examples/scenarios', '--webhook-timeout', 'soon']);
    expect(res.code).toBe(64);
    expect(res.stderr).toContain("--webhook-timeout 'soon' is not a duration");
  });
});
