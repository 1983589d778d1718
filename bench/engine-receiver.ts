/**
 * The webhook receiver of the engine bench, run as its own process (child_process.fork) so that
 * it does not share an event loop with the process being measured. Paths under `/two_way/`
 * answer 200 `{"halt": false}`, others 204. It tells the parent its port, and on request how many
 * calls it took and the turnaround of every call after a request's first: the time from its
 * answer to the request's previous call until the next call of that request arrived (the
 * caller's own work between two calls, on this process's clock).
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';

export type ReceiverMessage = { port: number } | { calls: number; turnaroundsMs: number[] };

/** Per privacy request: when its last call was answered. */
let answeredAt = new Map<string, bigint>();
let turnaroundsMs: number[] = [];
let calls = 0;

const HALT_FALSE = JSON.stringify({ halt: false });

const server = http.createServer((req, res) => {
  const chunks: Buffer[] = [];
  req.on('data', (c: Buffer) => chunks.push(c));
  req.on('end', () => {
    const arrived = process.hrtime.bigint();
    calls += 1;
    const id = (JSON.parse(Buffer.concat(chunks).toString('utf8')) as { privacy_request_id: string }).privacy_request_id;
    const previous = answeredAt.get(id);
    if (previous !== undefined) turnaroundsMs.push(Number(arrived - previous) / 1e6);
    if (req.url!.startsWith('/two_way/')) res.writeHead(200, { 'content-type': 'application/json' }).end(HALT_FALSE);
    else res.writeHead(204).end();
    answeredAt.set(id, process.hrtime.bigint());
  });
});
server.keepAliveTimeout = 30_000;

server.listen(0, '127.0.0.1', () => process.send!({ port: (server.address() as AddressInfo).port } satisfies ReceiverMessage));

process.on('message', (message: 'report') => {
  if (message !== 'report') return;
  process.send!({ calls, turnaroundsMs } satisfies ReceiverMessage);
  answeredAt = new Map();
  turnaroundsMs = [];
  calls = 0;
});
process.on('disconnect', () => process.exit(0));
