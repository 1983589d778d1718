import { http, HttpResponse, passthrough, type HttpHandler } from 'msw';
import { type Journal, type JournalCall, parseBody } from './journal.js';
import { type Answer, type Endpoint, normalizeUrl, type ResumeSpec, type Scenario } from './scenario.js';
import type { SimulationTarget } from './target.js';

/** A body that announces JSON and is not (fault: malformed_body). */
export const MALFORMED_BODY = '{"halt": true, "derived_identity": ';

export interface SimulationContext {
  journal: Journal;
  /**
   * `get` and `mintExpiredToken` need the engine in this process. Without `get` (`mock serve`:
   * the engine is another process) a resume is sent after_ms after the answer, and the server's
   * resume route waits for the pause to be committed; without `mintExpiredToken`, an `expired`
   * resume is not sent and the journal says why.
   */
  target: Pick<SimulationTarget, 'callbackBase'> & Partial<Pick<SimulationTarget, 'get' | 'mintExpiredToken'>>;
  /** How often a pending resume checks whether its request has stopped processing (default 10 ms). */
  pollIntervalMs?: number;
}

/** The MSW handlers of one scenario, plus what the runner needs to know about their background work. */
export interface EndpointSimulation {
  /** In order: loopback passthrough, one handler per declared endpoint, the catch-all for undeclared ones. */
  readonly handlers: HttpHandler[];
  /** Resume callbacks scheduled or in flight for this request. */
  pendingResumes(requestId: string): number;
  /** Cancel scheduled resumes and end calls still held open (timeouts, delays), so nothing outlives the scenario. */
  dispose(): void;
}

export function simulateEndpoints(scenario: Scenario, ctx: SimulationContext): EndpointSimulation {
  const simulation = new ScenarioEndpoints(scenario, ctx);
  return {
    handlers: simulation.handlers(),
    pendingResumes: (requestId) => simulation.pendingResumes(requestId),
    dispose: () => simulation.dispose(),
  };
}

/**
 * One scenario's endpoints: each call is journalled and answered with its endpoint's next step;
 * an answer with `resume` then sends the resume callback in the background. All of it ends with
 * `dispose` (the scenario's lifetime).
 */
class ScenarioEndpoints {
  private readonly journal: Journal;
  private readonly target: SimulationContext['target'];
  private readonly pollIntervalMs: number;
  private readonly lifetime = new AbortController();
  private readonly callbackBase: string;
  /** Resume callbacks scheduled or in flight, per privacy request. */
  private readonly pending = new Map<string, number>();
  /** Calls answered so far, per endpoint: the step of the next one. */
  private readonly callCounts: number[];

  constructor(
    private readonly scenario: Scenario,
    ctx: SimulationContext,
  ) {
    this.journal = ctx.journal;
    this.target = ctx.target;
    this.pollIntervalMs = ctx.pollIntervalMs ?? 10;
    this.callbackBase = ctx.target.callbackBase.replace(/\/+$/, '');
    this.callCounts = scenario.endpoints.map(() => 0);
  }

  /** In order: loopback passthrough, one handler per declared endpoint, the catch-all for undeclared ones. */
  handlers(): HttpHandler[] {
    const callbackBase = this.callbackBase;
    const isCallback = ({ request }: { request: Request }) => request.url === callbackBase || request.url.startsWith(`${callbackBase}/`);
    return [
      // The resume endpoint is a real loopback server: let those calls through untouched.
      http.all(isCallback, () => passthrough()),
      ...this.scenario.endpoints.map((endpoint, index) => {
        const url = normalizeUrl(endpoint.url);
        const method = endpoint.method.toLowerCase() as Lowercase<'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE' | 'HEAD' | 'OPTIONS'>;
        return http[method](({ request }) => normalizeUrl(request.url) === url, ({ request }) => this.answerDeclared(index, request));
      }),
      http.all('*', ({ request }) => this.answerUndeclared(request)),
    ];
  }

  pendingResumes(requestId: string): number {
    return this.pending.get(requestId) ?? 0;
  }

  dispose(): void {
    this.lifetime.abort();
  }

  private async answerDeclared(index: number, request: Request): Promise<Response> {
    const endpoint = this.scenario.endpoints[index] as Endpoint;
    const seen = await describe(request);
    // Counted when journalled, so that step order follows journal order.
    const n = this.callCounts[index] ?? 0;
    this.callCounts[index] = n + 1;
    const step = n < endpoint.times.length ? n : null;
    const answer = step === null ? endpoint.answer : (endpoint.times[step] as Answer);
    const call = this.journal.recordCall({ ...seen, endpoint: index, step });
    const started = Date.now();
    const signal = AbortSignal.any([request.signal, this.lifetime.signal]);
    const delivered = await (answer.fault === 'timeout' ? untilAborted(signal) : sleep(answer.respond?.delay_ms ?? 0, signal));
    if (!delivered) {
      call.answer = answer.fault === 'timeout' ? 'fault: timeout' : `${answer.respond?.status} (not delivered)`;
      call.aborted_after_ms = Date.now() - started;
      return HttpResponse.error();
    }
    call.answer = answer.fault && answer.fault !== 'status' ? `fault: ${answer.fault}` : String(answer.respond?.status ?? 200);
    if (answer.resume) this.scheduleResume(call, answer.resume);
    return respondWith(answer);
  }

  private async answerUndeclared(request: Request): Promise<Response> {
    const call = this.journal.recordCall({ ...(await describe(request)), endpoint: null, step: null });
    call.answer = 'undeclared';
    // Strict: fail the call like an unreachable host. Otherwise keep the request going with `{}`.
    return this.scenario.strict ? HttpResponse.error() : HttpResponse.json({});
  }

  private scheduleResume(call: JournalCall, spec: ResumeSpec): void {
    const id = call.privacy_request_id;
    if (id !== null) this.pending.set(id, (this.pending.get(id) ?? 0) + 1);
    const done = (result: JournalResumeResult) =>
      this.journal.recordResume({ call_seq: call.seq, privacy_request_id: id, token: spec.token, elapsed_ms: this.journal.elapsed(), ...result });
    void this.sendResume(call, spec)
      .then(done, (error: unknown) =>
        done({ status: null, body: null, first: null, error: this.lifetime.signal.aborted ? 'not sent: the scenario ended first' : errorText(error) }))
      .finally(() => {
        if (id !== null) this.pending.set(id, (this.pending.get(id) ?? 1) - 1);
      });
  }

  private async sendResume(call: JournalCall, spec: ResumeSpec): Promise<JournalResumeResult> {
    const replyTo = call.headers['reply-to'];
    const token = call.headers['reply-to-token'];
    if (!replyTo || !token) {
      return { status: null, body: null, first: null, error: 'the call carried no reply-to / reply-to-token header (only two-way pre-execution webhooks get them)' };
    }
    let bearer = token;
    if (spec.token === 'tampered') bearer = tamperToken(token);
    if (spec.token === 'expired') {
      if (!this.target.mintExpiredToken) {
        return { status: null, body: null, first: null, error: "an expired token needs the engine's key: only hookctl simulate can make one" };
      }
      bearer = await this.target.mintExpiredToken(token);
    }
    if (!(await sleep(spec.after_ms, this.lifetime.signal))) throw new Error('disposed');
    if (call.privacy_request_id !== null) await this.untilStopped(call.privacy_request_id);
    const post = () => postResume(`${this.callbackBase}${replyTo}`, bearer, spec.body, this.lifetime.signal);
    // reuse: resume once with the token, then again with the same one; the second answer counts.
    const first = spec.token === 'reuse' ? await post() : null;
    return { ...(await post()), first, error: null };
  }

  /** A resume is only meaningful once the engine has acted on the answer (paused, or finished). */
  private async untilStopped(requestId: string): Promise<void> {
    if (!this.target.get) return;
    for (;;) {
      const { status } = await this.target.get(requestId);
      if (status !== 'pending' && status !== 'in_processing') return;
      if (!(await sleep(this.pollIntervalMs, this.lifetime.signal))) throw new Error('disposed');
    }
  }
}

type JournalResumeResult = { status: number | null; body: unknown; first: { status: number; body: unknown } | null; error: string | null };

async function describe(request: Request): Promise<Pick<JournalCall, 'url' | 'method' | 'headers' | 'body' | 'privacy_request_id'>> {
  const body = parseBody(await request.clone().text());
  const id = isRecord(body) && typeof body.privacy_request_id === 'string' ? body.privacy_request_id : null;
  const headers: Record<string, string> = {};
  request.headers.forEach((value, name) => (headers[name] = value)); // names come lower-cased
  return { url: request.url, method: request.method, headers, body, privacy_request_id: id };
}

function respondWith(answer: Answer): Response {
  const respond = answer.respond;
  if (answer.fault === 'network_error') return HttpResponse.error();
  if (answer.fault === 'malformed_body') {
    return new Response(MALFORMED_BODY, { status: respond?.status ?? 200, headers: { 'content-type': 'application/json', ...respond?.headers } });
  }
  if (!respond) return new Response(null, { status: 200 });
  if (respond.body === undefined) return new Response(null, { status: respond.status, headers: respond.headers });
  const text = typeof respond.body === 'string';
  return new Response(text ? (respond.body as string) : JSON.stringify(respond.body), {
    status: respond.status,
    headers: { 'content-type': text ? 'text/plain; charset=utf-8' : 'application/json', ...respond.headers },
  });
}

async function postResume(url: string, bearer: string, body: unknown, signal: AbortSignal): Promise<{ status: number; body: unknown }> {
  const response = await fetch(url, {
    method: 'POST',
    headers: { authorization: `Bearer ${bearer}`, 'content-type': 'application/json' },
    body: JSON.stringify(body),
    signal,
  });
  return { status: response.status, body: parseBody(await response.text()) };
}

/**
 * Change one character in the middle of a compact JWE's ciphertext (the 4th segment), so that
 * it still looks like a token but can no longer be authenticated. Not the last character: that
 * one may only carry padding bits.
 */
export function tamperToken(token: string): string {
  const segments = token.split('.');
  const index = segments.length === 5 ? 3 : -1;
  const target = index >= 0 ? (segments[index] as string) : token;
  const at = Math.floor(target.length / 2);
  const flipped = `${target.slice(0, at)}${target[at] === 'A' ? 'B' : 'A'}${target.slice(at + 1)}`;
  if (index < 0) return flipped;
  segments[index] = flipped;
  return segments.join('.');
}

/** Resolves true after `ms`, or false as soon as `signal` aborts. */
function sleep(ms: number, signal: AbortSignal): Promise<boolean> {
  if (signal.aborted) return Promise.resolve(false);
  return new Promise((resolve) => {
    const onAbort = () => {
      clearTimeout(timer);
      resolve(false);
    };
    const timer = setTimeout(() => {
      signal.removeEventListener('abort', onAbort);
      resolve(true);
    }, ms);
    signal.addEventListener('abort', onAbort, { once: true });
  });
}

/** Resolves false once `signal` aborts: an answer that never comes. */
function untilAborted(signal: AbortSignal): Promise<boolean> {
  if (signal.aborted) return Promise.resolve(false);
  return new Promise((resolve) => signal.addEventListener('abort', () => resolve(false), { once: true }));
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function errorText(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  const cause = error.cause instanceof Error ? `: ${error.cause.message}` : '';
  return `${error.message}${cause}`;
}
