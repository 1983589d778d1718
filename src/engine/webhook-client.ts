import { Agent } from 'undici';
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
 * Outbound webhook calls through `globalThis.fetch` (which MSW intercepts in simulations) with
 * keep-alive undici agents. The overall deadline is an AbortSignal, because MSW ignores the
 * dispatcher; the agent's own timeouts are the same value, for real sockets.
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
      const response = await globalThis.fetch(call.url, {
        method: 'POST',
        headers,
        body: JSON.stringify(call.body),
        // A redirect is the endpoint's answer (non-2xx), not an invitation to send the
        // authorization elsewhere.
        redirect: 'manual',
        signal: controller.signal,
        dispatcher: this.agent(call.timeoutMs),
      } as RequestInit);
      const bodyText = await readLimited(response, MAX_RESPONSE_BYTES);
      return { status: response.status, bodyText, durationMs: elapsed() };
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

function causeCode(err: unknown): string | undefined {
  const cause = (err as { cause?: { code?: unknown } } | null)?.cause;
  return typeof cause?.code === 'string' ? cause.code : undefined;
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
  if (code) return `${NETWORK_CAUSES[code] ?? 'network error'} (${code})`;
  if (err instanceof TypeError && !(err as { cause?: unknown }).cause) {
    return 'request could not be sent (check the connection url and authorization secrets)';
  }
  return 'network error';
}
