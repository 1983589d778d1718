/**
 * TEST DOUBLE — not the engine. `FakeEngineTarget` implements SimulationTarget just well enough
 * to test the harness plumbing (MSW interception, journal, resume callbacks, settling) before the
 * real engine is wired in. It makes real `globalThis.fetch` POSTs to the webhook URLs and serves
 * a real node:http resume endpoint on 127.0.0.1, with a simplified version of the contract's
 * execution and resume rules. Behaviour of the product itself is tested against the real engine.
 */
import { createHmac, randomBytes, randomUUID, timingSafeEqual } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Scenario } from '../../harness/scenario.js';
import type { RequestView, SimulationTarget, TargetFactory } from '../../harness/target.js';

export interface FakeWebhook {
  key: string;
  url: string;
  callback_type: 'pre' | 'post';
  direction: 'one_way' | 'two_way';
  /** Name of the scenario env variable whose value is sent as Authorization. */
  authorization_env?: string;
}

interface FakeRequest {
  view: RequestView;
  policy: FakeWebhook[];
  /** Index of the webhook that paused the request. */
  pausedBy: number | null;
}

/** The factory, plus every target it made (to check they were closed). */
export function fakeEngineFactory(policies: Record<string, FakeWebhook[]>, opts: { webhookTimeoutMs: number }): TargetFactory & { made: FakeEngineTarget[] } {
  const made: FakeEngineTarget[] = [];
  const factory = async (scenario: Scenario) => {
    const target = await FakeEngineTarget.start(policies, scenario.env, opts.webhookTimeoutMs);
    made.push(target);
    return target;
  };
  return Object.assign(factory, { made });
}

export class FakeEngineTarget implements SimulationTarget {
  callbackBase = '';
  closed = false;
  private readonly requests = new Map<string, FakeRequest>();
  private readonly running = new Set<Promise<void>>();
  private readonly usedTokens = new Set<string>();
  private readonly key = randomBytes(32);
  private server!: http.Server;

  private constructor(
    private readonly policies: Record<string, FakeWebhook[]>,
    private readonly env: Record<string, string>,
    private readonly webhookTimeoutMs: number,
  ) {}

  static async start(policies: Record<string, FakeWebhook[]>, env: Record<string, string>, webhookTimeoutMs: number): Promise<FakeEngineTarget> {
    const target = new FakeEngineTarget(policies, env, webhookTimeoutMs);
    target.server = http.createServer((req, res) => void target.serveResume(req, res));
    await new Promise<void>((resolve) => target.server.listen(0, '127.0.0.1', resolve));
    target.callbackBase = `http://127.0.0.1:${(target.server.address() as AddressInfo).port}`;
    return target;
  }

  async submit(policyKey: string, identity: { email?: string; phone_number?: string }): Promise<string> {
    const policy = this.policies[policyKey];
    if (!policy) throw new Error(`no policy '${policyKey}'`);
    const id = `pri_${randomUUID()}`;
    const view: RequestView = { id, status: 'pending', identity: { email: identity.email ?? null, phone_number: identity.phone_number ?? null }, failure_reason: null, timeline: [] };
    this.requests.set(id, { view, policy, pausedBy: null });
    this.execute(id, 0);
    return id;
  }

  async get(id: string): Promise<RequestView> {
    const request = this.requests.get(id);
    if (!request) throw new Error(`no request ${id}`);
    return structuredClone(request.view);
  }

  async mintExpiredToken(token: string): Promise<string> {
    const claims = this.readToken(token);
    if (!claims) throw new Error('cannot re-mint an invalid token');
    return this.token({ ...claims, exp: Date.now() - 1000, jti: randomUUID() });
  }

  async close(): Promise<void> {
    this.closed = true;
    await Promise.all(this.running);
    await new Promise<void>((resolve, reject) => this.server.close((e) => (e ? reject(e) : resolve())));
  }

  private execute(id: string, from: number): void {
    const run = this.run(id, from).finally(() => this.running.delete(run));
    this.running.add(run);
  }

  private async run(id: string, from: number): Promise<void> {
    const request = this.requests.get(id) as FakeRequest;
    const { view } = request;
    view.status = 'in_processing';
    for (let i = from; i < request.policy.length; i++) {
      const webhook = request.policy[i] as FakeWebhook;
      const headers: Record<string, string> = { 'content-type': 'application/json' };
      if (webhook.authorization_env) headers.authorization = this.env[webhook.authorization_env] ?? '';
      if (webhook.direction === 'two_way' && webhook.callback_type === 'pre') {
        headers['reply-to'] = `/privacy-request/${id}/resume`;
        headers['reply-to-token'] = this.token({ rid: id, webhook: i, exp: Date.now() + 60_000, jti: randomUUID() });
      }
      const body = { privacy_request_id: id, direction: webhook.direction, callback_type: webhook.callback_type, identity: view.identity };
      let response: Response;
      try {
        response = await fetch(webhook.url, { method: 'POST', headers, body: JSON.stringify(body), signal: AbortSignal.timeout(this.webhookTimeoutMs) });
      } catch (error) {
        return this.fail(view, `webhook '${webhook.key}' failed: ${(error as Error).name}`);
      }
      const text = await response.text();
      if (webhook.direction === 'one_way') continue;
      if (!response.ok) return this.fail(view, `webhook '${webhook.key}' returned HTTP ${response.status}`);
      let reply: unknown = {};
      try {
        reply = text === '' ? {} : JSON.parse(text);
      } catch {
        return this.fail(view, `webhook '${webhook.key}' sent an invalid response`);
      }
      if (typeof reply !== 'object' || reply === null || Array.isArray(reply)) return this.fail(view, `webhook '${webhook.key}' sent an invalid response`);
      const { halt, derived_identity: derived } = reply as { halt?: boolean; derived_identity?: Partial<RequestView['identity']> };
      Object.assign(view.identity, derived ?? {});
      if (halt === true && webhook.callback_type === 'pre') {
        view.status = 'paused';
        request.pausedBy = i;
        return;
      }
    }
    view.status = 'complete';
  }

  private fail(view: RequestView, reason: string): void {
    view.status = 'error';
    view.failure_reason = reason;
  }

  private async serveResume(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const send = (status: number, body: unknown): void => {
      res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
    };
    let text = '';
    for await (const chunk of req) text += String(chunk);
    const id = /^\/privacy-request\/([^/]+)\/resume$/.exec(req.url ?? '')?.[1];
    if (req.method !== 'POST' || !id) return send(404, { detail: 'Not Found' });
    const bearer = /^Bearer (.+)$/.exec(req.headers.authorization ?? '')?.[1];
    if (!bearer) return send(401, { detail: 'Failed to authenticate' });
    const claims = this.readToken(bearer);
    if (!claims || claims.rid !== id) return send(403, { detail: 'Not Authorized for this action' });
    if (claims.exp < Date.now()) return send(403, { detail: 'Webhook token expired' });
    const request = this.requests.get(id);
    if (!request) return send(404, { detail: `no privacy request '${id}'` });
    if (request.view.status !== 'paused') return send(400, { detail: `Invalid resume request: privacy request '${id}' status = ${request.view.status}.` });
    if (request.pausedBy !== claims.webhook || this.usedTokens.has(claims.jti)) return send(403, { detail: 'Not Authorized for this action' });
    this.usedTokens.add(claims.jti);
    const { derived_identity: derived } = JSON.parse(text || '{}') as { derived_identity?: Partial<RequestView['identity']> };
    Object.assign(request.view.identity, derived ?? {});
    request.view.status = 'in_processing';
    send(200, request.view);
    this.execute(id, claims.webhook + 1);
  }

  // Five dot-separated segments like a compact JWE; the 4th carries the claims, the 5th authenticates them.
  private token(claims: TokenClaims): string {
    const payload = Buffer.from(JSON.stringify(claims)).toString('base64url');
    return `fake.key.iv.${payload}.${this.tag(payload)}`;
  }

  private readToken(token: string): TokenClaims | null {
    const [, , , payload, tag] = token.split('.');
    if (!payload || !tag) return null;
    const expected = Buffer.from(this.tag(payload));
    if (expected.length !== tag.length || !timingSafeEqual(expected, Buffer.from(tag))) return null;
    return JSON.parse(Buffer.from(payload, 'base64url').toString()) as TokenClaims;
  }

  private tag(payload: string): string {
    return createHmac('sha256', this.key).update(payload).digest('base64url');
  }
}

interface TokenClaims {
  rid: string;
  webhook: number;
  exp: number;
  jti: string;
}
