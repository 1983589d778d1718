/**
 * A crashed `serve` (SIGKILL) loses nothing: restarted on the same state, a request that was
 * paused is resumed through its reply-to path with the token captured before the crash, and a
 * request whose webhook call was in flight is taken over once its lease expires, the
 * interrupted call made again exactly once and every other webhook called exactly once.
 * Real processes of the built CLI, a real receiver, SQLite and PostgreSQL.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { freshBackends, type Backend } from '../helpers/backends.js';
import { Receiver, waitFor } from '../engine/fixtures.js';
import {
  HOOK_TOKEN,
  api,
  applyManifest,
  createRequests,
  createToken,
  getRequest,
  killAllServes,
  startServe,
  steps,
  writeManifest,
  type RequestView,
} from './processes.js';

let env: Awaited<ReturnType<typeof freshBackends>>;
let receiver: Receiver;
beforeAll(async () => {
  env = await freshBackends('serve_restart');
  receiver = await Receiver.start();
});
afterEach(killAllServes);
afterAll(async () => {
  await receiver.close();
  await env.drop();
});

/** Short, so that the takeover after the crash comes quickly; renewed every third of it. */
const LEASE_MS = '900';

describe.each(['sqlite', 'postgres'] as const)('serve restarted after SIGKILL on %s', (backendName) => {
  it('resumes the paused request with its pre-crash token and takes over the one in flight', async () => {
    const backend: Backend = env.backends.find((b) => b.name === backendName)!;
    const tag = backendName;
    const hooks = {
      gate: receiver.endpoint({ status: 200, body: { halt: true } }),
      afterGate: receiver.endpoint({ status: 200 }),
      pausedDone: receiver.endpoint({ status: 204 }),
      // The first call never gets an answer: the process making it dies meanwhile.
      warehouse: receiver.endpoint(['hang', { status: 200 }]),
      lookup: receiver.endpoint({ status: 200, body: { halt: false } }),
      inFlightDone: receiver.endpoint({ status: 204 }),
    };
    const manifest = writeManifest(backend.dir, {
      [`pausing_${tag}`]: {
        pre: [
          { key: `gate_${tag}`, direction: 'two_way', url: hooks.gate },
          { key: `after_gate_${tag}`, direction: 'one_way', url: hooks.afterGate },
        ],
        post: [{ key: `paused_done_${tag}`, direction: 'one_way', url: hooks.pausedDone }],
      },
      [`in_flight_${tag}`]: {
        pre: [
          { key: `warehouse_${tag}`, direction: 'one_way', url: hooks.warehouse },
          { key: `lookup_${tag}`, direction: 'two_way', url: hooks.lookup },
        ],
        post: [{ key: `in_flight_done_${tag}`, direction: 'one_way', url: hooks.inFlightDone }],
      },
    });
    await applyManifest(backend, manifest);
    const token = await createToken(backend, ['privacy-request:create', 'privacy-request:read']);

    const first = await startServe(backend, ['--worker-lease', LEASE_MS]);
    const [pausedId] = await createRequests(first.base, token, [{ policy_key: `pausing_${tag}`, identity: { email: 'paused@example.com' } }]);
    const [inFlightId] = await createRequests(first.base, token, [{ policy_key: `in_flight_${tag}`, identity: { email: 'in-flight@example.com' } }]);
    await waitFor('the pause to be committed', async () => ((await getRequest(first.base, token, pausedId!)).status === 'paused' ? true : undefined));
    await waitFor('the call held open', async () => (receiver.callsTo(hooks.warehouse).length === 1 ? true : undefined));
    const haltCall = receiver.callsTo(hooks.gate)[0]!;
    const replyTo = haltCall.headers['reply-to'] as string;
    const replyToken = haltCall.headers['reply-to-token'] as string;
    expect(replyTo).toBe(`/privacy-request/${pausedId}/resume`);
    expect(haltCall.headers.authorization).toBe(HOOK_TOKEN);

    await first.crash();

    const second = await startServe(backend, ['--worker-lease', LEASE_MS]);
    expect(second.owner).not.toBe(first.owner);
    expect(await getRequest(second.base, token, pausedId!)).toMatchObject({ status: 'paused', resume_endpoint: replyTo });

    // The endpoint resumes the new process exactly as `reply-to` told it before the crash.
    const resumed = await api<RequestView>(second.base, replyToken, 'POST', replyTo, { derived_identity: { phone_number: '+15555550100' } });
    expect(resumed.status).toBe(200);
    expect(resumed.body.status).toBe('in_processing');

    const settled = async (id: string) => {
      const view = await getRequest(second.base, token, id);
      return view.status === 'complete' || view.status === 'error' ? view : undefined;
    };
    const paused = await waitFor('the resumed request to finish', () => settled(pausedId!));
    const inFlight = await waitFor('the interrupted request to finish', () => settled(inFlightId!));

    expect(paused.status).toBe('complete');
    expect(steps(paused)).toEqual([
      `pre:gate_${tag}:halt`,
      'pre:resumed',
      `pre:after_gate_${tag}:continue`,
      'execute:executed',
      `post:paused_done_${tag}:continue`,
    ]);
    expect(inFlight.status).toBe('complete');
    // The crash left no trace of the interrupted call; the takeover's call is the one recorded.
    expect(steps(inFlight)).toEqual([`pre:warehouse_${tag}:continue`, `pre:lookup_${tag}:continue`, 'execute:executed', `post:in_flight_done_${tag}:continue`]);

    // The interrupted webhook once more, everything else exactly once, with the merged identity.
    expect(receiver.callsTo(hooks.warehouse)).toHaveLength(2);
    for (const url of [hooks.gate, hooks.afterGate, hooks.pausedDone, hooks.lookup, hooks.inFlightDone]) expect(receiver.callsTo(url)).toHaveLength(1);
    expect(receiver.callsTo(hooks.pausedDone)[0]!.body).toMatchObject({ identity: { email: 'paused@example.com', phone_number: '+15555550100' } });

    // The token worked once, across the restart too.
    const replayed = await api<{ detail: string }>(second.base, replyToken, 'POST', replyTo, {});
    expect(replayed).toEqual({ status: 400, body: { detail: `Invalid resume request: privacy request '${pausedId}' status = complete.` } });
    receiver.releaseHanging();
  });
});
