/**
 * The webhook client under MSW, which is how `hookctl simulate` intercepts it: MSW replaces
 * fetch and ignores the undici dispatcher, so timeouts must come from the AbortSignal.
 */
import { http as mswHttp, HttpResponse, delay } from 'msw';
import { setupServer } from 'msw/node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MAX_RESPONSE_BYTES, WebhookClient, type WebhookCall } from '../../src/engine/webhook-client.js';

const seen: { headers: Record<string, string>; body: unknown }[] = [];
const server = setupServer(
  mswHttp.post('https://hooks.example.com/ok', async ({ request }) => {
    const headers: Record<string, string> = {};
    request.headers.forEach((value, name) => (headers[name] = value));
    seen.push({ headers, body: await request.json() });
    return HttpResponse.json({ halt: false });
  }),
  mswHttp.post('https://hooks.example.com/hang', async () => {
    await delay('infinite');
    return HttpResponse.json({});
  }),
  mswHttp.post('https://hooks.example.com/broken', () => HttpResponse.error()),
  mswHttp.post('https://hooks.example.com/sized', ({ request }) => {
    const size = Number(new URL(request.url).searchParams.get('bytes'));
    return new HttpResponse('x'.repeat(size), { headers: { 'content-length': String(size) } });
  }),
  mswHttp.post('https://hooks.example.com/streamed', ({ request }) => {
    const size = Number(new URL(request.url).searchParams.get('bytes'));
    const chunk = new TextEncoder().encode('x'.repeat(64 * 1024));
    let sent = 0;
    const body = new ReadableStream<Uint8Array>({
      pull(controller) {
        if (sent >= size) return controller.close();
        const part = chunk.subarray(0, Math.min(chunk.byteLength, size - sent));
        sent += part.byteLength;
        controller.enqueue(part);
      },
    });
    return new HttpResponse(body);
  }),
);
const client = new WebhookClient();

beforeAll(() => server.listen({ onUnhandledRequest: 'error' }));
afterAll(async () => {
  server.close();
  await client.close();
});

const call = (path: string, extra: Partial<WebhookCall> = {}): Promise<Awaited<ReturnType<WebhookClient['call']>>> =>
  client.call({
    id: 'msg_test',
    url: `https://hooks.example.com${path}`,
    authorization: 'Bearer sim',
    body: { privacy_request_id: 'pri_1', direction: 'two_way', callback_type: 'pre', identity: { email: 'a@b.c', phone_number: null } },
    timeoutMs: 150,
    ...extra,
  });

describe('WebhookClient under MSW', () => {
  it('sends the contract headers and body and reads the answer', async () => {
    const result = await call('/ok', { replyTo: { path: '/privacy-request/pri_1/resume', token: 'tok' } });
    expect(result).toMatchObject({ status: 200, bodyText: '{"halt":false}' });
    expect(seen[0]!.headers).toMatchObject({
      'content-type': 'application/json',
      authorization: 'Bearer sim',
      'reply-to': '/privacy-request/pri_1/resume',
      'reply-to-token': 'tok',
    });
    expect(seen[0]!.body).toEqual({ privacy_request_id: 'pri_1', direction: 'two_way', callback_type: 'pre', identity: { email: 'a@b.c', phone_number: null } });
  });

  it('times out by its deadline even though MSW ignores the dispatcher', async () => {
    const started = Date.now();
    expect(await call('/hang')).toMatchObject({ error: 'timeout', message: 'timed out after 150 ms' });
    expect(Date.now() - started).toBeLessThan(1_500);
  });

  it('reports a simulated network error without quoting the URL', async () => {
    const result = await call('/broken');
    expect(result).toMatchObject({ error: 'network', message: 'network error' });
  });

  it.each(['/sized', '/streamed'])('reads a body up to 1 MiB and not one byte more (%s)', async (path) => {
    const fits = await call(`${path}?bytes=${MAX_RESPONSE_BYTES}`, { timeoutMs: 5_000 });
    expect(fits).toMatchObject({ status: 200 });
    expect((fits as { bodyText: string }).bodyText).toHaveLength(MAX_RESPONSE_BYTES);
    expect(await call(`${path}?bytes=${MAX_RESPONSE_BYTES + 1}`, { timeoutMs: 5_000 })).toMatchObject({ status: 200, bodyText: null });
  }, 8_000);

  it("rejects with the caller's reason when the caller aborts", async () => {
    const stop = new AbortController();
    const pending = call('/hang', { timeoutMs: 5_000, signal: stop.signal });
    stop.abort(new Error('worker stopped'));
    await expect(pending).rejects.toThrow('worker stopped');
  });
});
