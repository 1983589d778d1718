/**
 * `hookctl mock serve`: a scenario's endpoints on a real HTTP port, for an engine in another
 * process (a `hookctl serve`). The same MSW handlers as `simulate` answer, through msw's
 * getResponse; the journal goes to a log, one line per call or resume callback.
 *
 * URL mapping: an endpoint is served at its url's host, path and query as the path on this
 * server: `https://identity.example.com/hooks/privacy` answers at
 * `http://127.0.0.1:PORT/identity.example.com/hooks/privacy`. With the host in the path, no two
 * endpoints of a scenario can collide (their urls differ). Point the connection's `url` there;
 * calls are journalled under the endpoint's declared url.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { getResponse } from 'msw';
import { describeCall } from './expectations.js';
import { simulateEndpoints } from './handlers.js';
import { Journal, type JournalCall, type JournalResume } from './journal.js';
import type { Scenario } from './scenario.js';

export interface MockRoute {
  method: string;
  /** Path and query on the mock server. */
  path: string;
  /** The endpoint's url as the scenario declares it. */
  url: string;
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

export interface MockServer {
  url: string;
  routes: MockRoute[];
  journal: Journal;
  close(): Promise<void>;
}

/** Where each endpoint of the scenario is served. */
export function mockRoutes(scenario: Scenario): MockRoute[] {
  return scenario.endpoints.map((endpoint) => {
    const parsed = new URL(endpoint.url);
    return { method: endpoint.method, path: `/${parsed.host}${parsed.pathname}${parsed.search}`, url: endpoint.url };
  });
}

/** Serve `scenario`'s endpoints until close(). */
export async function startMockServer(scenario: Scenario, opts: MockServerOptions = {}): Promise<MockServer> {
  const routes = mockRoutes(scenario);
  const byRoute = new Map(routes.map((r) => [`${r.method} ${r.path}`, r.url]));
  const log = opts.log ?? (() => undefined);
  const journal = new LoggedJournal(log);
  const simulation = simulateEndpoints(scenario, { journal, target: { callbackBase: opts.callbackBase ?? 'http://callback-base.invalid' } });
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
    // An undeclared path keeps the address it was called at, and meets the catch-all handler.
    const url = byRoute.get(`${method} ${target}`) ?? new URL(target, `http://${req.headers.host ?? 'mock'}`).href;
    const gone = new AbortController();
    res.on('close', () => {
      if (!res.writableFinished) gone.abort();
    });
    const headers = new Headers();
    for (let i = 0; i + 1 < req.rawHeaders.length; i += 2) {
      const name = req.rawHeaders[i]!;
      if (!HOP_BY_HOP.has(name.toLowerCase())) headers.append(name, req.rawHeaders[i + 1]!);
    }
    const body = method === 'GET' || method === 'HEAD' ? undefined : Buffer.concat(chunks);
    const request = new Request(url, { method, headers, body, signal: gone.signal });
    const response = await getResponse(simulation.handlers, request);
    journal.logAnswered();
    if (!response || response.type === 'error') {
      // network_error, an undeclared endpoint in strict mode, a call given up: drop the connection.
      res.destroy();
      return;
    }
    const out = Buffer.from(await response.arrayBuffer());
    response.headers.forEach((value, name) => res.setHeader(name, value));
    if (out.length > 0) res.setHeader('content-length', out.length);
    res.writeHead(response.status).end(out);
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
  return {
    url: `http://${host}:${address.port}`,
    routes,
    journal,
    close: async () => {
      simulation.dispose();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
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
