import { Agent, request, type Dispatcher } from 'undici';
import type { Direction, Phase } from '../model/types.js';
import type { Identity } from './identity.js';
import { hookctlVersion } from '../version.js';

const USER_AGENT = `hookctl/${hookctlVersion()}`;

/** Timeout of one webhook call unless the server/CLI or the connection says otherwise. */
export const DEFAULT_WEBHOOK_TIMEOUT_MS = 30_000;

/** A bigger response body is not read (a two-way response is a small JSON object). */
export const MAX_RESPONSE_BYTES = 1024 * 1024;

/** The body of every webhook call, exactly. */
export interface WebhookBody {
  privacy_request_id: string;
  direction: Direction;
  callback_type: Phase;
  identity: Identity;
}

export interface WebhookCall {
  /**
   * Sent as `webhook-id` (the Standard Webhooks header): the same for a call delivered again after
   * a crash, another for every other call, so that receivers can deduplicate.
   */
  id: string;
  url: string;
  /** Sent verbatim as `Authorization`. */
  authorization: string;
  body: WebhookBody;
  /** Two-way pre-execution webhooks only: where and with what to resume. */
  replyTo?: { path: string; token: string };
  timeoutMs: number;
  /** The caller's cancellation (a stopping worker): the call then rejects with its reason. */
  signal?: AbortSignal;
}

/**
 * What happened. `message` says what went wrong without the URL or any header value
 * (both are secrets); `bodyText` is null when the body exceeded MAX_RESPONSE_BYTES.
 */
export type CallResult =
  | { status: number; bodyText: string | null; durationMs: number }
  | { error: 'timeout' | 'network'; message: string; durationMs: number };

/**
 * `globalThis.fetch` as this module found it, Node's own. When another function is in its place
 * (MSW's, which `hookctl simulate` installs after loading the engine), calls go through that
 * one, so that it sees them.
 */
const NODE_FETCH = globalThis.fetch;

/**
 * Outbound webhook calls with keep-alive undici agents: by undici's `request`, which costs a
 * fraction of fetch's CPU per call (no WHATWG streams, Request and Response objects); through
 * `globalThis.fetch` instead while something else (MSW) has replaced it. The overall deadline is
 * an AbortSignal, because MSW ignores the dispatcher; the agent's own timeouts are the same
 * value, for real sockets.
 */
export class WebhookClient {
  private readonly agents = new Map<number, Agent>();

  async call(call: WebhookCall): Promise<CallResult> {
    // One controller per call, aborted by the deadline or by the caller: cheaper than an
    // AbortSignal.timeout joined to the caller's by AbortSignal.any on every call.
    const controller = new AbortController();
    let timedOut = false;
    const deadline = setTimeout(() => {
      timedOut = true;
      controller.abort(new DOMException(`timed out after ${call.timeoutMs} ms`, 'TimeoutError'));
    }, call.timeoutMs);
    const callerAborted = () => controller.abort(call.signal!.reason);
    if (call.signal?.aborted) callerAborted();
    else call.signal?.addEventListener('abort', callerAborted, { once: true });
    const headers: Record<string, string> = {
      'Content-Type': 'application/json',
      Authorization: call.authorization,
      'webhook-id': call.id,
      'User-Agent': USER_AGENT,
    };
    if (call.replyTo) {
      headers['reply-to'] = call.replyTo.path;
      headers['reply-to-token'] = call.replyTo.token;
    }
    const started = performance.now();
    const elapsed = () => Math.round(performance.now() - started);
    try {
      const send = globalThis.fetch === NODE_FETCH ? sendByRequest : sendByFetch;
      const answer = await send(call.url, { headers, body: JSON.stringify(call.body), signal: controller.signal, dispatcher: this.agent(call.timeoutMs) });
      return { ...answer, durationMs: elapsed() };
    } catch (err) {
      if (call.signal?.aborted) throw call.signal.reason;
      if (timedOut || isTimeoutCode(causeCode(err))) {
        return { error: 'timeout', message: `timed out after ${call.timeoutMs} ms`, durationMs: elapsed() };
      }
      return { error: 'network', message: describeNetworkError(err), durationMs: elapsed() };
    } finally {
      clearTimeout(deadline);
      call.signal?.removeEventListener('abort', callerAborted);
    }
  }

  async close(): Promise<void> {
    const agents = [...this.agents.values()];
    this.agents.clear();
    await Promise.all(agents.map((a) => a.close()));
  }

  /** One agent per distinct timeout (there are few: the default and per-connection values). */
  private agent(timeoutMs: number): Agent {
    let agent = this.agents.get(timeoutMs);
    if (!agent) {
      agent = new Agent({ connectTimeout: timeoutMs, headersTimeout: timeoutMs, bodyTimeout: timeoutMs, keepAliveTimeout: 4_000 });
      this.agents.set(timeoutMs, agent);
    }
    return agent;
  }
}

interface Outbound {
  headers: Record<string, string>;
  body: string;
  signal: AbortSignal;
  dispatcher: Dispatcher;
}

/**
 * A POST by undici's request. It follows no redirect: a redirect is the endpoint's answer
 * (non-2xx), not an invitation to send the authorization elsewhere.
 */
async function sendByRequest(url: string, outbound: Outbound): Promise<{ status: number; bodyText: string | null }> {
  const response = await request(url, { method: 'POST', ...outbound });
  // Nothing here asks for compression (no Accept-Encoding): the declared length is the body's.
  const declared = Number(response.headers['content-length'] ?? NaN);
  if (declared <= MAX_RESPONSE_BYTES) return { status: response.statusCode, bodyText: await response.body.text() };
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of response.body as AsyncIterable<Buffer>) {
    size += chunk.byteLength;
    if (size > MAX_RESPONSE_BYTES) {
      response.body.destroy();
      return { status: response.statusCode, bodyText: null };
    }
    chunks.push(chunk);
  }
  return { status: response.statusCode, bodyText: Buffer.concat(chunks).toString('utf8') };
}

/** The same POST through `globalThis.fetch` (MSW's, in simulations). */
async function sendByFetch(url: string, outbound: Outbound): Promise<{ status: number; bodyText: string | null }> {
  const response = await globalThis.fetch(url, { method: 'POST', ...outbound, redirect: 'manual' } as RequestInit);
  return { status: response.status, bodyText: await readLimited(response, MAX_RESPONSE_BYTES) };
}

async function readLimited(response: Response, limit: number): Promise<string | null> {
  if (!response.body) return '';
  // A declared length that fetch enforces (not one of a compressed body, which fetch inflates)
  // lets the usual small body be read in one go.
  const declared = response.headers.has('content-encoding') ? NaN : Number(response.headers.get('content-length') ?? NaN);
  if (declared <= limit) return response.text();
  const reader = response.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > limit) {
      // Not awaited: under MSW the cancellation of a mocked body never settles.
      reader.cancel().catch(() => undefined);
      return null;
    }
    chunks.push(value);
  }
  return Buffer.concat(chunks).toString('utf8');
}

/** The error's code: undici's request sets it on the error, fetch on the error's cause. */
function causeCode(err: unknown): string | undefined {
  const { code, cause } = (err ?? {}) as { code?: unknown; cause?: { code?: unknown } };
  const found = code ?? cause?.code;
  return typeof found === 'string' ? found : undefined;
}

function isTimeoutCode(code: string | undefined): boolean {
  return code === 'UND_ERR_CONNECT_TIMEOUT' || code === 'UND_ERR_HEADERS_TIMEOUT' || code === 'UND_ERR_BODY_TIMEOUT';
}

const NETWORK_CAUSES: Record<string, string> = {
  ECONNREFUSED: 'connection refused',
  ECONNRESET: 'connection reset',
  UND_ERR_SOCKET: 'connection reset',
  EPIPE: 'connection reset',
  ENOTFOUND: 'host not found',
  EAI_AGAIN: 'host not found',
  EHOSTUNREACH: 'host unreachable',
  ENETUNREACH: 'network unreachable',
  ERR_INVALID_URL: 'invalid URL',
};

/**
 * The cause by its code only: error messages of fetch and undici quote the URL, the host or
 * an invalid header value, all of which are secrets here.
 */
function describeNetworkError(err: unknown): string {
  const code = causeCode(err);
  // An invalid header value (say, a newline in the authorization) or URL scheme.
  if (code === 'UND_ERR_INVALID_ARG') return 'request could not be sent (check the connection url and authorization secrets)';
  if (code) return `${NETWORK_CAUSES[code] ?? 'network error'} (${code})`;
  if (err instanceof TypeError && !(err as { cause?: unknown }).cause) {
    return 'request could not be sent (check the connection url and authorization secrets)';
  }
  return 'network error';
}
