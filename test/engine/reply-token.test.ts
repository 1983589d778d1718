import { compactDecrypt } from 'jose';
import { describe, expect, it } from 'vitest';
import { checkReplyToken, issueReplyToken } from '../../src/engine/reply-token.js';
import { deriveKeys } from '../../src/state/keys.js';
import { keys } from './fixtures.js';

const subject = { webhookId: 'pol_hook', privacyRequestId: 'pri_request' };
const at = new Date('2026-05-01T12:00:00.000Z');

describe('reply-to tokens', () => {
  it('are compact JWEs (dir, A256GCM) under the reply-token key with the contract claims', async () => {
    const { token, claims } = await issueReplyToken(keys.replyToken, subject, 90, at);
    const parts = token.split('.');
    expect(parts).toHaveLength(5);
    expect(parts[1]).toBe('');
    const { plaintext, protectedHeader } = await compactDecrypt(token, keys.replyToken);
    expect(protectedHeader).toEqual({ alg: 'dir', enc: 'A256GCM' });
    const decoded = JSON.parse(new TextDecoder().decode(plaintext));
    expect(decoded).toEqual(claims);
    expect(decoded).toEqual({
      webhook_id: 'pol_hook',
      privacy_request_id: 'pri_request',
      scopes: ['privacy-request:resume'],
      iat: at.getTime() / 1000,
      exp: at.getTime() / 1000 + 90 * 60,
      jti: expect.stringMatching(/^[0-9a-f-]{36}$/),
    });
  });

  it('differ every time, even for the same webhook and request', async () => {
    const one = await issueReplyToken(keys.replyToken, subject, 5, at);
    const two = await issueReplyToken(keys.replyToken, subject, 5, at);
    expect(one.token).not.toBe(two.token);
    expect(one.claims.jti).not.toBe(two.claims.jti);
  });

  it('are valid until their lifetime (minutes, fractions allowed) has passed', async () => {
    const { token, claims } = await issueReplyToken(keys.replyToken, subject, 0.5, at);
    const after = (ms: number) => new Date(at.getTime() + ms);
    expect(await checkReplyToken(keys.replyToken, token, after(29_999))).toEqual({ kind: 'ok', claims });
    expect(await checkReplyToken(keys.replyToken, token, after(30_000))).toEqual({ kind: 'expired', claims });
  });

  it('are invalid when tampered with, under another key, or not a JWE', async () => {
    const { token } = await issueReplyToken(keys.replyToken, subject, 5, at);
    const parts = token.split('.');
    const tag = parts[4]!;
    parts[4] = (tag[0] === 'A' ? 'B' : 'A') + tag.slice(1);
    expect(await checkReplyToken(keys.replyToken, parts.join('.'), at)).toEqual({ kind: 'invalid' });
    expect(await checkReplyToken(deriveKeys(Buffer.alloc(32, 9)).replyToken, token, at)).toEqual({ kind: 'invalid' });
    // The API-token key is another purpose's key: its tokens are not reply-to tokens.
    expect(await checkReplyToken(keys.apiToken, token, at)).toEqual({ kind: 'invalid' });
    expect(await checkReplyToken(keys.replyToken, 'garbage', at)).toEqual({ kind: 'invalid' });
  });
});
