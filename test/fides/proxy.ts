/**
 * A recording, fault-injecting HTTP proxy on loopback, put in front of a Fides test target so
 * that failure tests run the same way against `hookctl serve` and the double. A faulted call
 * never reaches the target: the test knows exactly what was written.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';

export interface FaultRule {
  method?: string;
  /** A string matches the path without its query exactly; a RegExp is tested against the path with its query. */
  path: string | RegExp;
  /** Answer this status (with `body` and `contentType`) instead of forwarding. */
  status?: number;
  body?: string;
  contentType?: string;
  /** How many matching calls it applies to (default 1; Infinity for all). */
  times?: number;
  /** Wait this long before answering (or before forwarding, when it is the only effect). */
  delayMs?: number;
  /** Destroy the connection without any answer. */
  reset?: boolean;
}

export interface RecordedCall {
  method: string;
  /** Without the query (which holds pages and flags, not what a test counts by). */
  path: string;
  /** 0 when the proxy reset the connection. */
  status: number;
}

export interface FaultProxy {
  url: string;
  fail(rule: FaultRule): void;
  calls(): RecordedCall[];
  resetCalls(): void;
  close(): Promise<void>;
}

export async function startFaultProxy(targetUrl: string): Promise<FaultProxy> {
  const target = new URL(targetUrl);
  const agent = new http.Agent({ keepAlive: true });
  const rules: (FaultRule & { left: number })[] = [];
  let recorded: RecordedCall[] = [];

  const matching = (method: string, path: string) => {
    const pathname = path.split('?')[0]!;
    const rule = rules.find((r) => r.left > 0 && (r.method === undefined || r.method.toUpperCase() === method) && (typeof r.path === 'string' ? r.path === pathname : r.path.test(path)));
    if (rule) rule.left -= 1;
    return rule;
  };

  const server = http.createServer((req, res) => {
    const method = req.method ?? 'GET';
    const path = req.url ?? '/';
    const call: RecordedCall = { method, path: path.split('?')[0]!, status: 0 };
    recorded.push(call);
    const rule = matching(method, path);
    void (async () => {
      if (rule?.delayMs) await sleep(rule.delayMs);
      if (rule?.reset) {
        req.socket.destroy();
        return;
      }
      if (rule?.status !== undefined) {
        // The body is read (and dropped) so that the client sees the answer, not a broken pipe.
        req.resume();
        call.status = rule.status;
        res.writeHead(rule.status, { 'content-type': rule.contentType ?? 'application/json', connection: 'close' }).end(rule.body ?? '');
        return;
      }
      const upstream = http.request(
        { host: target.hostname, port: target.port, method, path, headers: { ...req.headers, host: target.host }, agent },
        (answer) => {
          call.status = answer.statusCode ?? 0;
          res.writeHead(answer.statusCode ?? 502, answer.headers);
          answer.pipe(res);
        },
      );
      upstream.on('error', () => {
        call.status = 502;
        if (!res.headersSent) res.writeHead(502, { 'content-type': 'text/plain' }).end('Bad Gateway');
        else res.destroy();
      });
      req.pipe(upstream);
    })();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    fail(rule) {
      rules.push({ ...rule, left: rule.times ?? 1 });
    },
    calls: () => recorded.map((c) => ({ ...c })),
    resetCalls() {
      recorded = [];
    },
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      agent.destroy();
    },
  };
}
