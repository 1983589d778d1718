/**
 * `hookctl mock serve`: the endpoints of one or more scenarios on a real HTTP port, for an engine
 * in another process (a `hookctl serve`). The same MSW handlers as `simulate` answer, through
 * msw's getResponse; each scenario keeps its own journal, logged one line per call or resume.
 *
 * URL mapping: an endpoint is served at its url's host, path and query as the path on this
 * server: `https://identity.example.com/hooks/privacy` answers at
 * `http://127.0.0.1:PORT/identity.example.com/hooks/privacy`. With the host in the path, two
 * endpoints collide only when they declare the same method and url (refused). A path no endpoint
 * declares gets 404 naming the nearest declared url, so that a misconfigured connection says
 * what it missed rather than failing as unreachable.
 *
 * Admin API (no auth, as WireMock's) under /__hookctl: the journal of everything received, its
 * reset, and a resume sent on demand with the latest reply-to-token of a request.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { getResponse } from 'msw';
import { describeCall } from './expectations.js';
import { simulateEndpoints } from './handlers.js';
import { Journal, parseBody, type JournalCall, type JournalResume } from './journal.js';
import { editDistance } from '../src/manifest/suggest.js';
import type { Scenario } from './scenario.js';

export interface MockRoute {
  method: string;
  /** Path and query on the mock server. */
  path: string;
  /** The endpoint's url as the scenario declares it. */
  url: string;
  /** The name of the scenario that declares it, and its position in the scenarios served. */
  scenario: string;
  scenarioIndex: number;
}

export interface MockServerOptions {
  host?: string;
  /** 0 (default): any free port. */
  port?: number;
  /** Base URL of the server that runs the requests; resume callbacks go to it + `reply-to`. */
  callbackBase?: string;
  /** One line per call and per resume callback; never a header value (they carry secrets). */
  log?: (line: string) => void;
}

/** One request the mock received (admin API: `GET /__hookctl/requests`), declared endpoint or not. */
export interface MockJournalEntry {
  at: string;
  method: string;
  /** The URL the request was sent to, on this server. */
  url: string;
  /** Every header as received, names lower-cased: `reply-to` and `reply-to-token` included. */
  headers: Record<string, string>;
  /** Parsed JSON body; the raw text when it is not JSON; null when empty. */
  body: unknown;
  /** The declared url that answered; null when no endpoint matched (404). */
  endpoint: string | null;
  scenario: string | null;
  /** The HTTP status sent back; null when the connection was dropped (a fault, a call given up). */
  status: number | null;
}

export interface MockServer {
  url: string;
  routes: MockRoute[];
  /** Each scenario's own journal, in the order of the scenarios given. */
  journals: Journal[];
  /** Everything received, in arrival order (admin requests excepted). */
  requests: MockJournalEntry[];
  close(): Promise<void>;
}

/** Thrown when two endpoints of the scenarios served together declare the same method and url. */
export class DuplicateEndpointError extends Error {}

/** Where each endpoint of the scenarios is served. */
export function mockRoutes(scenarios: readonly Scenario[]): MockRoute[] {
  const routes: MockRoute[] = [];
  const seen = new Map<string, MockRoute>();
  scenarios.forEach((scenario, scenarioIndex) => {
    for (const endpoint of scenario.endpoints) {
      const parsed = new URL(endpoint.url);
      const path = `/${parsed.host}${parsed.pathname}${parsed.search}`;
      const route = { method: endpoint.method, path, url: endpoint.url, scenario: scenario.name, scenarioIndex };
      const key = `${route.method} ${route.path}`;
      const first = seen.get(key);
      if (first) {
        throw new DuplicateEndpointError(`endpoint ${endpoint.method} ${endpoint.url} is declared by scenario '${first.scenario}' and by scenario '${scenario.name}'`);
      }
      seen.set(key, route);
      routes.push(route);
    }
  });
  return routes;
}

/** The admin API's prefix: no scenario endpoint can live there (they start with a host). */
const ADMIN = '/__hookctl';

/** Serve the endpoints of `scenarios` until close(). */
export async function startMockServer(scenarios: Scenario | readonly Scenario[], opts: MockServerOptions = {}): Promise<MockServer> {
  const list = Array.isArray(scenarios) ? (scenarios as readonly Scenario[]) : [scenarios as Scenario];
  const routes = mockRoutes(list);
  const log = opts.log ?? (() => undefined);
  const callbackBase = opts.callbackBase?.replace(/\/+$/, '');
  const journals = list.map(() => new LoggedJournal(log));
  const simulations = list.map((scenario, i) =>
    simulateEndpoints(scenario, { journal: journals[i]!, target: { callbackBase: callbackBase ?? 'http://callback-base.invalid' } }),
  );
  const byRoute = new Map(routes.map((r) => [`${r.method} ${r.path}`, r]));
  const requests: MockJournalEntry[] = [];
  /** The latest reply-to and token each privacy request was sent; kept when the journal is cleared. */
  const replies = new Map<string, { replyTo: string; token: string }>();
  const lifetime = new AbortController();

  const server = http.createServer((req, res) => {
    void answer(req, res).catch((err: Error) => {
      log(`error answering ${req.method} ${req.url}: ${err.message}`);
      res.destroy();
    });
  });
  const answer = async (req: http.IncomingMessage, res: http.ServerResponse): Promise<void> => {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const method = req.method ?? 'GET';
    const target = req.url ?? '/';
    const raw = Buffer.concat(chunks);
    if (target === ADMIN || target.startsWith(`${ADMIN}/`)) {
      const { status, body } = await admin(method, target, raw.toString('utf8'));
      sendJson(res, status, body);
      return;
    }
    const headers: Record<string, string> = {};
    for (const [name, value] of Object.entries(req.headers)) {
      if (value !== undefined) headers[name] = Array.isArray(value) ? value.join(', ') : value;
    }
    const body = parseBody(raw.toString('utf8'));
    const found = byRoute.get(`${method} ${target}`);
    const entry: MockJournalEntry = {
      at: new Date().toISOString(), method, url: `${baseUrl}${target}`, headers, body,
      endpoint: found?.url ?? null, scenario: found?.scenario ?? null, status: null,
    };
    requests.push(entry);
    const id = isRecord(body) && typeof body.privacy_request_id === 'string' ? body.privacy_request_id : null;
    if (id !== null && headers['reply-to'] && headers['reply-to-token']) replies.set(id, { replyTo: headers['reply-to'], token: headers['reply-to-token'] });
    if (!found) {
      entry.status = 404;
      log(`${method} ${target} → 404: no endpoint`);
      sendJson(res, 404, { detail: `no endpoint for ${method} ${target.split('?')[0]}`, closest: closestUrl(`${target}`, routes) });
      return;
    }
    const gone = new AbortController();
    res.on('close', () => {
      if (!res.writableFinished) gone.abort();
    });
    const forward = new Headers();
    for (let i = 0; i + 1 < req.rawHeaders.length; i += 2) {
      const name = req.rawHeaders[i]!;
      if (!HOP_BY_HOP.has(name.toLowerCase())) forward.append(name, req.rawHeaders[i + 1]!);
    }
    const request = new Request(found.url, { method, headers: forward, body: method === 'GET' || method === 'HEAD' ? undefined : raw, signal: gone.signal });
    const response = await getResponse(simulations[found.scenarioIndex]!.handlers, request);
    journals[found.scenarioIndex]!.logAnswered();
    if (!response || response.type === 'error') {
      // network_error, a timeout or delay the caller gave up on: drop the connection.
      res.destroy();
      return;
    }
    const out = Buffer.from(await response.arrayBuffer());
    response.headers.forEach((value, name) => res.setHeader(name, value));
    if (out.length > 0) res.setHeader('content-length', out.length);
    entry.status = response.status;
    res.writeHead(response.status).end(out);
  };

  /** WireMock-style admin API: the journal, its reset, and resumes sent on demand. */
  const admin = async (method: string, target: string, text: string): Promise<{ status: number; body: unknown }> => {
    const route = target.slice(ADMIN.length).split('?')[0]!;
    if (route === '/requests' && method === 'GET') return { status: 200, body: { requests } };
    if (route === '/requests' && method === 'DELETE') {
      requests.length = 0;
      return { status: 200, body: { requests } };
    }
    const resume = /^\/resume\/([^/]+)$/.exec(route);
    if (resume && method === 'POST') {
      const id = decodeURIComponent(resume[1]!);
      const reply = replies.get(id);
      if (!reply) return { status: 404, body: { detail: `no reply-to-token received for privacy request '${id}'` } };
      if (!callbackBase) return { status: 409, body: { detail: 'mock serve was started without --callback-base: there is nowhere to send the resume' } };
      const body = text.trim() === '' ? {} : parseBody(text);
      if (!isRecord(body)) return { status: 400, body: { detail: 'the body must be a JSON object, e.g. {} or {"derived_identity": {"phone_number": "+15555550100"}}' } };
      try {
        const sent = await fetch(`${callbackBase}${reply.replyTo}`, {
          method: 'POST',
          headers: { authorization: `Bearer ${reply.token}`, 'content-type': 'application/json' },
          body: JSON.stringify(body),
          signal: AbortSignal.any([lifetime.signal, AbortSignal.timeout(30_000)]),
        });
        const answered = parseBody(await sent.text());
        log(`resume of ${id} on demand → ${sent.status}`);
        return { status: sent.status, body: answered };
      } catch (error) {
        return { status: 502, body: { detail: `the resume could not be sent to ${callbackBase}${reply.replyTo}: ${(error as Error).message}` } };
      }
    }
    return { status: 404, body: { detail: `no admin route ${method} ${route}`, closest: null } };
  };

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 0, opts.host ?? '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  const address = server.address() as AddressInfo;
  const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  const baseUrl = `http://${host}:${address.port}`;
  return {
    url: baseUrl,
    routes,
    journals,
    requests,
    close: async () => {
      lifetime.abort();
      for (const simulation of simulations) simulation.dispose();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** The declared url whose served path is nearest (by edit distance) to the path requested. */
function closestUrl(target: string, routes: readonly MockRoute[]): string | null {
  let best: MockRoute | null = null;
  let bestDistance = Infinity;
  for (const route of routes) {
    const d = editDistance(target, route.path);
    if (d < bestDistance) {
      best = route;
      bestDistance = d;
    }
  }
  return best?.url ?? null;
}

function sendJson(res: http.ServerResponse, status: number, body: unknown): void {
  const out = Buffer.from(JSON.stringify(body));
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': out.length }).end(out);
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

const HOP_BY_HOP = new Set(['host', 'connection', 'keep-alive', 'transfer-encoding', 'content-length', 'upgrade']);

/** A journal that logs each call once it is answered, and each resume callback. */
class LoggedJournal extends Journal {
  private readonly unlogged = new Set<JournalCall>();

  constructor(private readonly log: (line: string) => void) {
    super();
  }

  override recordCall(call: Parameters<Journal['recordCall']>[0]): JournalCall {
    const entry = super.recordCall(call);
    this.unlogged.add(entry);
    return entry;
  }

  /** Log the calls answered since the last time (a call held open by a delay or a timeout waits). */
  logAnswered(): void {
    for (const call of this.unlogged) {
      if (call.answer === 'pending') continue;
      this.unlogged.delete(call);
      this.log(`#${call.seq} +${call.elapsed_ms}ms ${describeCall(call)}${call.privacy_request_id ? ` (${call.privacy_request_id})` : ''}`);
    }
  }

  override recordResume(resume: JournalResume): void {
    super.recordResume(resume);
    this.logAnswered(); // the call that scheduled it first
    const answer = resume.status === null ? `not sent: ${resume.error}` : `${resume.status}${detail(resume.body)}`;
    const first = resume.first ? `first ${resume.first.status}, then ` : '';
    this.log(`resume after #${resume.call_seq} (${resume.privacy_request_id ?? 'no request id'}, token: ${resume.token}) → ${first}${answer}`);
  }
}

function detail(body: unknown): string {
  const text = typeof body === 'object' && body !== null && 'detail' in body ? (body as { detail: unknown }).detail : undefined;
  return typeof text === 'string' ? ` ${text}` : '';
}
