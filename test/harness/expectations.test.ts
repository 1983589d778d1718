import { describe, expect, it } from 'vitest';
import { evaluateRequest, type ExpectationResult, subsetDiff } from '../../harness/expectations.js';
import type { JournalCall, JournalResume } from '../../harness/journal.js';
import type { Expectations } from '../../harness/scenario.js';
import type { RequestView } from '../../harness/target.js';

const view: RequestView = {
  id: 'pri_1',
  status: 'complete',
  identity: { email: 'a@example.com', phone_number: '+1555' },
  failure_reason: null,
  timeline: [],
};

let seq = 0;
function call(url: string, body: Record<string, unknown>, headers: Record<string, string> = {}, endpoint: number | null = 0): JournalCall {
  seq += 1;
  return {
    seq, time: '', elapsed_ms: 0, url, method: 'POST', headers: { 'content-type': 'application/json', ...headers },
    body: { privacy_request_id: 'pri_1', ...body }, privacy_request_id: 'pri_1', endpoint, step: null, answer: '200', aborted_after_ms: null,
  };
}

const identityCall = call('https://identity.example.com/h', { callback_type: 'pre', direction: 'two_way', identity: { email: 'a@example.com', phone_number: null } }, { authorization: 'test-token', 'reply-to': '/privacy-request/pri_1/resume', 'reply-to-token': 'jwe.secret.value.x.y' });
const cacheCall = call('https://cache.example.com/bust', { callback_type: 'post', direction: 'one_way' }, {}, 1);

function evaluate(expect: Partial<Expectations>, observed: { view?: Partial<RequestView>; calls?: JournalCall[]; resumes?: JournalResume[] } = {}, strict = true): ExpectationResult[] {
  return evaluateRequest({ status: 'complete', ...expect }, { view: { ...view, ...observed.view }, calls: observed.calls ?? [identityCall, cacheCall], resumes: observed.resumes ?? [] }, { strict });
}
const failures = (results: ExpectationResult[]) => results.filter((r) => !r.pass);
const named = (results: ExpectationResult[], name: string) => results.find((r) => r.name === name);

describe('evaluateRequest', () => {
  it('passes every kind of expectation that holds', () => {
    const results = evaluate(
      {
        status: 'complete',
        identity: { email: 'a@example.com', phone_number: '+1555' },
        calls: [
          { url: 'https://identity.example.com/h', method: 'post', callback_type: 'pre', direction: 'two_way', headers: { authorization: 'test-token', 'reply-to': 'present', 'reply-to-token': 'present' }, body: { identity: { email: 'a@example.com' } } },
          { url: 'https://cache.example.com/bust', callback_type: 'post', headers: { 'reply-to': 'absent' } },
        ],
        resume: { status: 200 },
      },
      { resumes: [{ call_seq: 1, privacy_request_id: 'pri_1', token: 'valid', elapsed_ms: 5, status: 200, body: {}, first: null, error: null }] },
    );
    expect(failures(results)).toEqual([]);
    expect(results.map((r) => r.name)).toEqual([
      'status', 'identity.email', 'identity.phone_number', 'calls (count)',
      'calls[0].url', 'calls[0].method', 'calls[0].callback_type', 'calls[0].direction',
      'calls[0].headers.authorization', 'calls[0].headers.reply-to', 'calls[0].headers.reply-to-token', 'calls[0].body',
      'calls[1].url', 'calls[1].callback_type', 'calls[1].headers.reply-to',
      'resume.status',
    ]);
  });

  it('status: names expected and actual, and the failure reason', () => {
    const [status] = evaluate({ status: 'complete' }, { view: { status: 'error', failure_reason: "webhook 'x' returned HTTP 500" } });
    expect(status).toEqual({ name: 'status', pass: false, expected: 'complete', actual: 'error', message: "failure_reason: webhook 'x' returned HTTP 500" });
  });

  it('failure_reason: a substring of the actual reason', () => {
    const reason = { view: { status: 'error', failure_reason: "webhook 'x' returned HTTP 500" } };
    expect(named(evaluate({ status: 'error', failure_reason: 'HTTP 500' }, reason), 'failure_reason')!.pass).toBe(true);
    const wrong = named(evaluate({ status: 'error', failure_reason: 'timed out' }, reason), 'failure_reason')!;
    expect(wrong).toMatchObject({ pass: false, actual: "webhook 'x' returned HTTP 500", message: 'the failure reason does not contain the expected text' });
    expect(named(evaluate({ failure_reason: 'x' }), 'failure_reason')).toMatchObject({ pass: false, message: 'the request has no failure reason' });
  });

  it('identity: each field, null expecting none', () => {
    const results = evaluate({ identity: { phone_number: '+1999', email: null } });
    expect(failures(results).map((r) => [r.name, r.expected, r.actual])).toEqual([
      ['identity.phone_number', '+1999', '+1555'],
      ['identity.email', null, 'a@example.com'],
    ]);
  });

  it('calls (count): both lists side by side when the number of calls differs', () => {
    const results = evaluate({ calls: [{ url: 'https://identity.example.com/h' }] });
    const count = named(results, 'calls (count)')!;
    expect(count.pass).toBe(false);
    expect(count.message).toBe('expected 1 call, the request made 2');
    expect(count.expected).toEqual(['https://identity.example.com/h']);
    expect(count.actual).toEqual(['POST https://identity.example.com/h pre two_way → 200', 'POST https://cache.example.com/bust post one_way → 200']);
    // The entry that is there still matches.
    expect(named(results, 'calls[0].url')!.pass).toBe(true);
  });

  it('calls[n]: says which entry and which field differ, in order', () => {
    const results = evaluate({
      calls: [
        { url: 'https://cache.example.com/bust' },
        { url: 'https://identity.example.com/h', callback_type: 'pre' },
        { direction: 'two_way' },
      ],
    });
    expect(failures(results).map((r) => [r.name, r.expected, r.actual])).toEqual([
      ['calls (count)', ['https://cache.example.com/bust', 'https://identity.example.com/h pre', '(any url) two_way'], expect.any(Array)],
      ['calls[0].url', 'https://cache.example.com/bust', 'https://identity.example.com/h'],
      ['calls[1].url', 'https://identity.example.com/h', 'https://cache.example.com/bust'],
      ['calls[1].callback_type', 'pre', 'post'],
      ['calls[2]', '(any url) two_way', '(no call)'],
    ]);
    expect(named(results, 'calls[0].url')!.message).toBe('call #0: POST https://identity.example.com/h');
    expect(named(results, 'calls[2]')!.message).toBe('there is no call #2: the request made 2 calls');
  });

  it('headers: exact values, present and absent; sensitive values are never shown', () => {
    const results = evaluate({
      calls: [
        { headers: { authorization: 'other-token', 'reply-to': 'absent', 'content-type': 'text/plain', 'reply-to-token': 'absent' } },
        { headers: { 'reply-to': 'present', 'x-missing': 'v' } },
      ],
    });
    const shown = failures(results).map((r) => [r.name, r.expected, r.actual, r.message]);
    expect(shown).toEqual([
      ['calls[0].headers.authorization', '(sensitive, 11 characters)', '(sensitive, 10 characters, different)', 'a sensitive value: not shown'],
      ['calls[0].headers.reply-to', 'absent', '/privacy-request/pri_1/resume', ''],
      ['calls[0].headers.content-type', 'text/plain', 'application/json', ''],
      ['calls[0].headers.reply-to-token', 'absent', '(sensitive, 20 characters)', ''],
      ['calls[1].headers.reply-to', 'present', '(absent)', ''],
      ['calls[1].headers.x-missing', 'v', '(absent)', ''],
    ]);
    expect(JSON.stringify(results)).not.toContain('test-token');
    expect(JSON.stringify(results)).not.toContain('jwe.secret');
  });

  it('body: deep subset, pointing at the first difference', () => {
    const results = evaluate({ calls: [{ body: { identity: { email: 'b@example.com' } } }, { body: { direction: 'one_way', extra: [1] } }] });
    expect(failures(results).map((r) => [r.name, r.expected, r.actual, r.message])).toEqual([
      ['calls[0].body', 'b@example.com', 'a@example.com', 'call #0: at body.identity.email: expected b@example.com, got a@example.com'],
      ['calls[1].body', [1], '(missing)', 'call #1: at body.extra: extra is missing'],
    ]);
  });

  it('resume.status: every resume sent for the request, or a clear failure when none was sent', () => {
    const resume = (status: number | null, extra: Partial<JournalResume> = {}): JournalResume => ({ call_seq: 1, privacy_request_id: 'pri_1', token: 'expired', elapsed_ms: 1, status, body: { detail: 'Webhook token expired' }, first: null, error: null, ...extra });
    expect(named(evaluate({ resume: { status: 403 } }, { resumes: [resume(403)] }), 'resume.status')!.pass).toBe(true);
    expect(named(evaluate({ resume: { status: 200 } }, { resumes: [resume(403)] }), 'resume.status')).toEqual({
      name: 'resume.status', pass: false, expected: 200, actual: 403, message: 'token: expired: Webhook token expired',
    });
    expect(named(evaluate({ resume: { status: 200 } }), 'resume.status')).toMatchObject({ pass: false, actual: '(no resume sent)', message: expect.stringMatching(/no resume callback was sent/) });
    const notSent = named(evaluate({ resume: { status: 200 } }, { resumes: [resume(null, { error: 'the call carried no reply-to / reply-to-token header' })] }), 'resume.status')!;
    expect(notSent).toMatchObject({ pass: false, message: 'the resume callback was not sent: the call carried no reply-to / reply-to-token header' });
    const two = evaluate({ resume: { status: 200 } }, { resumes: [resume(200), resume(403, { call_seq: 3 })] });
    expect(two.filter((r) => r.name.startsWith('resume')).map((r) => [r.name, r.pass])).toEqual([['resume.status (after call #1)', true], ['resume.status (after call #3)', false]]);
  });

  it('strict: a call to an undeclared endpoint fails the request; not in non-strict mode', () => {
    const stray = call('https://stray.example.com/x', { callback_type: 'post', direction: 'one_way' }, {}, null);
    stray.answer = 'undeclared';
    const strict = failures(evaluate({}, { calls: [identityCall, stray] }));
    expect(strict).toEqual([{
      name: 'strict: undeclared endpoint https://stray.example.com/x', pass: false, expected: 'no call',
      actual: 'POST https://stray.example.com/x post one_way → undeclared',
      message: "POST https://stray.example.com/x is not among the scenario's endpoints (strict mode)",
    }]);
    expect(failures(evaluate({}, { calls: [identityCall, stray] }, false))).toEqual([]);
  });
});

describe('subsetDiff', () => {
  it('compares arrays element-wise with the same length, objects by the keys given, scalars strictly', () => {
    expect(subsetDiff({ a: [1, { b: 2 }] }, { a: [1, { b: 2, c: 3 }], d: 4 }, 'body')).toBeNull();
    expect(subsetDiff({ a: [1] }, { a: [1, 2] }, 'body')).toMatchObject({ path: 'body.a', reason: 'expected 1 element, got 2' });
    expect(subsetDiff({ a: [1, { b: 2 }] }, { a: [1, { b: '2' }] }, 'body')).toMatchObject({ path: 'body.a[1].b', reason: 'expected 2, got "2"' });
    expect(subsetDiff({ a: {} }, { a: null }, 'body')).toMatchObject({ path: 'body.a', reason: 'expected an object, got null' });
    expect(subsetDiff(null, null, 'body')).toBeNull();
  });
});
