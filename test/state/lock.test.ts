import { spawn } from 'node:child_process';
import readline from 'node:readline';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { freshBackends, type Backend } from '../helpers/backends.js';
import type { Database } from '../../src/state/database.js';
import { bumpSerial, readSerial, readState, upsertPolicies } from '../../src/state/config-store.js';
import { withStateLock } from '../../src/state/lock.js';
import { HookctlError } from '../../src/errors.js';
import { NOW, openBackend, resetState, seed } from './store-fixtures.js';

let env: Awaited<ReturnType<typeof freshBackends>>;
beforeAll(async () => {
  env = await freshBackends('state_lock');
});
afterAll(async () => env.drop());

interface Span {
  who: string;
  enter: number;
  exit: number;
}

/** Holds the lock for `hold` (ms, or until it settles), recording when it got in and out; `entered` resolves once in. */
function holdLock(db: Database, who: string, hold: number | Promise<unknown>, spans: Span[], timeoutMs = 10_000) {
  let signal!: () => void;
  const entered = new Promise<void>((resolve) => (signal = resolve));
  const done = withStateLock(db, timeoutMs, async (trx) => {
    const enter = Date.now();
    signal();
    await upsertPolicies(trx, [{ policy: { key: `by_${who}`, name: who } }], NOW);
    const seen = (await trx('policies').select('key')).map((r: { key: string }) => r.key).sort();
    await (typeof hold === 'number' ? sleep(hold) : hold);
    spans.push({ who, enter, exit: Date.now() });
    return seen;
  });
  return { entered, done };
}

function expectNoOverlap(spans: Span[]): void {
  const sorted = [...spans].sort((a, b) => a.enter - b.enter);
  for (let i = 1; i < sorted.length; i++) expect(sorted[i]!.enter).toBeGreaterThanOrEqual(sorted[i - 1]!.exit);
}

interface ChildEvent {
  event: 'loaded' | 'attempt' | 'enter' | 'exit' | 'ready' | 'error';
  t: number;
  message?: string;
  exitCode?: number;
}

/** test/state/fixtures/lock-child.mjs in its own process, running the real lock code. */
function startChild(backend: Backend, args: { mode: 'hold' | 'kill'; timeoutMs: number; holdMs?: number }) {
  const proc = spawn(process.execPath, [new URL('./fixtures/lock-child.mjs', import.meta.url).pathname, JSON.stringify({ url: backend.url, dir: backend.dir, ...args })], {
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  const events: ChildEvent[] = [];
  let output = '';
  proc.stderr.on('data', (chunk) => (output += chunk));
  const listeners = new Set<() => void>();
  readline.createInterface({ input: proc.stdout }).on('line', (line) => {
    if (line.startsWith('{')) events.push(JSON.parse(line) as ChildEvent);
    else output += `${line}\n`; // a library's warning: kept for the failure message
    for (const l of listeners) l();
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => proc.on('exit', (code, signal) => resolve({ code, signal })));
  return {
    proc,
    events,
    exited,
    go: () => proc.stdin.end('go\n'),
    waitFor(event: ChildEvent['event'], timeoutMs = 20_000): Promise<ChildEvent> {
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`child never printed '${event}'; other output: ${output}`)), timeoutMs);
        const check = () => {
          const found = events.find((e) => e.event === event);
          if (found) {
            clearTimeout(timer);
            listeners.delete(check);
            resolve(found);
          }
        };
        listeners.add(check);
        check();
        void exited.then(() => setTimeout(check, 10));
      });
    },
  };
}

describe.each([['sqlite'], ['postgres']] as const)('%s state lock', (name) => {
  let db: Database;
  const backend = () => env.backends.find((b) => b.name === name)!;
  beforeAll(async () => {
    db = await openBackend(backend());
  });
  afterAll(async () => db.close());
  beforeEach(async () => resetState(db));

  it('serializes two connections: the second waits until the first has committed, and sees its writes', async () => {
    const other = await openBackend(backend());
    try {
      const spans: Span[] = [];
      const first = holdLock(db, 'first', 400, spans);
      await first.entered;
      const asked = Date.now();
      const second = holdLock(other, 'second', 10, spans);
      const [, seenBySecond] = await Promise.all([first.done, second.done]);
      expectNoOverlap(spans);
      const secondSpan = spans.find((s) => s.who === 'second')!;
      expect(asked).toBeLessThan(spans.find((s) => s.who === 'first')!.exit); // it really had to wait
      expect(secondSpan.enter - asked).toBeGreaterThanOrEqual(300);
      expect(seenBySecond).toEqual(['by_first', 'by_second']);
    } finally {
      await other.close();
    }
  });

  it('serializes callers sharing one Database (one process, one pool)', async () => {
    const spans: Span[] = [];
    const holders = ['a', 'b', 'c'].map((who) => holdLock(db, who, 150, spans));
    await Promise.all(holders.map((h) => h.done));
    expect(spans).toHaveLength(3);
    expectNoOverlap(spans);
  });

  it('fails with exit code 5 after the timeout while another holds the lock, and leaves the holder alone', async () => {
    const other = await openBackend(backend());
    try {
      for (const contender of [other, db]) {
        const spans: Span[] = [];
        const holder = holdLock(db, `holder_${contender === db ? 'same' : 'other'}`, 1500, spans);
        await holder.entered;
        const started = Date.now();
        const attempt = withStateLock(contender, 300, (trx) => bumpSerial(trx));
        await expect(attempt).rejects.toThrow(HookctlError);
        await expect(attempt).rejects.toThrow(/^the state is locked by another apply \(waited 300ms\)$/);
        const waited = Date.now() - started;
        await expect(attempt).rejects.toMatchObject({ exitCode: 5, hint: 'try again later, or raise --lock-timeout' });
        expect(waited).toBeGreaterThanOrEqual(290);
        expect(waited).toBeLessThan(1400);
        await holder.done;
        expect(await readSerial(db.knex)).toBe(0);
      }
      const policies = (await readState(db.knex)).policies;
      expect([...policies.keys()]).toEqual(['by_holder_other', 'by_holder_same']);
    } finally {
      await other.close();
    }
  });

  it("leaves the connection's own lock wait setting as it was, inside fn and after", async () => {
    const setting = async (q: Database['knex']) => {
      if (name === 'sqlite') return ((await q.raw('PRAGMA busy_timeout')) as { timeout: number }[])[0]!.timeout;
      return ((await q.raw('SHOW lock_timeout')) as { rows: { lock_timeout: string }[] }).rows[0]!.lock_timeout;
    };
    const before = await db.knex.transaction((trx) => setting(trx));
    const inside = await withStateLock(db, 1234, (trx) => setting(trx));
    const after = await db.knex.transaction((trx) => setting(trx));
    expect([inside, after]).toEqual([before, before]);
  });

  it('serializes two processes', async () => {
    const children = [startChild(backend(), { mode: 'hold', timeoutMs: 10_000, holdMs: 500 }), startChild(backend(), { mode: 'hold', timeoutMs: 10_000, holdMs: 500 })];
    try {
      await Promise.all(children.map((c) => c.waitFor('loaded')));
      for (const c of children) c.go();
      const results = await Promise.all(children.map((c) => c.exited));
      expect(results.map((r) => r.code)).toEqual([0, 0]);
      const spans = children.map((c, i) => ({ who: `child${i}`, enter: c.events.find((e) => e.event === 'enter')!.t, exit: c.events.find((e) => e.event === 'exit')!.t }));
      expectNoOverlap(spans);
      const [firstIn, secondIn] = [...children].sort((a, b) => a.events.find((e) => e.event === 'enter')!.t - b.events.find((e) => e.event === 'enter')!.t);
      // Both asked while the first held the lock: the second really waited for it.
      expect(secondIn!.events.find((e) => e.event === 'attempt')!.t).toBeLessThan(firstIn!.events.find((e) => e.event === 'exit')!.t);
    } finally {
      for (const c of children) c.proc.kill('SIGKILL');
    }
  });

  it('times out against a holder in another process, and a waiting process exits with code 5', async () => {
    const holder = startChild(backend(), { mode: 'hold', timeoutMs: 10_000, holdMs: 2000 });
    try {
      await holder.waitFor('loaded');
      holder.go();
      await holder.waitFor('enter');
      await expect(withStateLock(db, 300, (trx) => bumpSerial(trx))).rejects.toMatchObject({ exitCode: 5 });
    } finally {
      await holder.exited;
    }
    const waiter = startChild(backend(), { mode: 'hold', timeoutMs: 300, holdMs: 0 });
    // Loaded first: opening the database migrates, which would itself wait for the lock.
    await waiter.waitFor('loaded');
    const local = holdLock(db, 'local', waiter.exited, []);
    await local.entered;
    waiter.go();
    expect((await waiter.waitFor('error')).message).toBe('the state is locked by another apply (waited 300ms)');
    expect((await waiter.exited).code).toBe(5);
    await local.done;
  });

  it('a process killed (SIGKILL) in the middle of a large apply leaves the previous state intact and no lock behind', async () => {
    await seed(db, { p: ['a', 'b', 'c'], q: ['d'] });
    await withStateLock(db, 5000, (trx) => bumpSerial(trx));
    const before = await readState(db.knex);

    const child = startChild(backend(), { mode: 'kill', timeoutMs: 10_000 });
    try {
      await child.waitFor('loaded');
      child.go();
      await child.waitFor('ready');
      // Readers are not blocked by an apply in progress, and do not see its uncommitted rows.
      expect(await readState(db.knex)).toEqual(before);
    } finally {
      child.proc.kill('SIGKILL');
    }
    expect((await child.exited).signal).toBe('SIGKILL');

    expect(await readState(db.knex)).toEqual(before);
    const started = Date.now();
    expect(await withStateLock(db, 5000, (trx) => bumpSerial(trx))).toBe(before.serial + 1);
    expect(Date.now() - started).toBeLessThan(1000);
  });
});
