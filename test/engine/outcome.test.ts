/** The outcome table as a pure function (the end-to-end tests run every row through HTTP). */
import { describe, expect, it } from 'vitest';
import { interpretCall, type WebhookRef } from '../../src/engine/outcome.js';

const twoWayPre: WebhookRef = { key: 'k', direction: 'two_way', phase: 'pre' };
const twoWayPost: WebhookRef = { key: 'k', direction: 'two_way', phase: 'post' };
const oneWay: WebhookRef = { key: 'k', direction: 'one_way', phase: 'pre' };
const ok = (bodyText: string | null, status = 200) => ({ status, bodyText, durationMs: 3 });

describe('interpretCall', () => {
  it('one_way: any status continues; the body is not read for meaning', () => {
    for (const status of [200, 302, 404, 500]) {
      expect(interpretCall(oneWay, ok('not json', status))).toEqual({ outcome: 'continue', derived: {}, reason: null });
    }
  });

  it('any direction: timeouts and network failures are errors naming the webhook', () => {
    expect(interpretCall(oneWay, { error: 'timeout', message: 'timed out after 30000 ms', durationMs: 30000 })).toEqual({
      outcome: 'error',
      derived: {},
      reason: "webhook 'k' timed out after 30000 ms",
    });
    expect(interpretCall(twoWayPre, { error: 'network', message: 'connection reset (ECONNRESET)', durationMs: 1 }).reason).toBe(
      "webhook 'k' unreachable: connection reset (ECONNRESET)",
    );
  });

  it.each([199, 300, 301, 400, 500])('two_way: HTTP %i is an error', (status) => {
    expect(interpretCall(twoWayPost, ok('{"halt": false}', status))).toEqual({ outcome: 'error', derived: {}, reason: `webhook 'k' returned HTTP ${status}` });
  });

  it.each([[''], [' \r\n'], ['{}'], ['{"halt": false}'], ['{"halt": "False"}'], ['{"halt": false, "derived_identity": null}'], ['{"halt": false, "extra": 1}']])(
    'two_way: %j continues with nothing derived',
    (body) => {
      expect(interpretCall(twoWayPre, ok(body))).toEqual({ outcome: 'continue', derived: {}, reason: null });
    },
  );

  it('two_way: derived identity values are merged, nulls ignored', () => {
    expect(interpretCall(twoWayPre, ok('{"halt": "true", "derived_identity": {"email": null, "phone_number": "+1555"}}'))).toEqual({
      outcome: 'halt',
      derived: { phone_number: '+1555' },
      reason: "webhook 'k' halted the request until it is resumed; derived identity merged: phone_number",
    });
    expect(interpretCall(twoWayPost, ok('{"halt": true, "derived_identity": {"email": "a@b.c"}}'))).toMatchObject({
      outcome: 'halt_ignored',
      derived: { email: 'a@b.c' },
    });
  });

  it.each([
    ['[]', 'body is not a JSON object'],
    ['"x"', 'body is not a JSON object'],
    ['0', 'body is not a JSON object'],
    ['{', 'body is not JSON'],
    ['{"derived_identity": {}}', "'halt' is missing"],
    ['{"halt": 1}', "'halt' must be a boolean"],
    ['{"halt": "yes"}', "'halt' must be a boolean"],
    ['{"halt": false, "derived_identity": []}', 'derived_identity: value is not a valid dict'],
    ['{"halt": false, "derived_identity": {"ssn": "1"}}', 'derived_identity.ssn: extra fields not permitted'],
    ['{"halt": false, "derived_identity": {"email": ""}}', 'derived_identity.email: ensure this value has at least 1 characters'],
  ])('two_way: %s is an invalid response', (body, problem) => {
    expect(interpretCall(twoWayPre, ok(body))).toEqual({ outcome: 'error', derived: {}, reason: `webhook 'k' returned an invalid response: ${problem}` });
  });

  it('two_way: an oversized body is an invalid response', () => {
    expect(interpretCall(twoWayPre, ok(null)).reason).toBe("webhook 'k' returned an invalid response: body is larger than 1 MiB");
  });
});
