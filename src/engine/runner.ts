import crypto from 'node:crypto';
import type { Phase } from '../model/types.js';
import type { RunnableWebhook } from '../state/config-reads.js';
import type { Keys } from '../state/keys.js';
import { RELEASED, type PauseChanges } from '../state/request-store.js';
import { stepEvent, type RequestRow, type Step, type TimelineEntry } from '../state/request-types.js';
import { mergeIdentity, requestIdentity, type Identity } from './identity.js';
import { interpretCall } from './outcome.js';
import { issueReplyToken } from './reply-token.js';
import { resumePath } from './request-views.js';
import type { WebhookClient } from './webhook-client.js';
import type { ExecutionObserver, RequestTransition } from './observer.js';

export interface ExecutionSettings {
  /** Timeout of a webhook call whose connection sets none. */
  webhookTimeoutMs: number;
  /** Reply-to token lifetime, and so how long a pause lasts. */
  resumeTimeoutMinutes: number;
  /** How long a claim holds without renewal; after that another worker takes the request over. */
  leaseMs: number;
}

export interface RunContext extends ExecutionSettings {
  keys: Keys;
  /** The webhooks of a policy's step as of `serial`, the configuration the step started with (WebhookListCache). */
  webhookList(policyKey: string, phase: Phase, serial: number | undefined): Promise<RunnableWebhook[]>;
  /** The lease owner id of the worker running this. */
  owner: string;
  client: WebhookClient;
  /**
   * Commit a call's result (and the renewed lease) if this worker still holds the request's
   * lease: the row as committed, or none if the lease was lost. The worker commits several at
   * once (GroupCommit), asynchronously.
   */
  commit(id: string, changes: Partial<RequestRow>, events: TimelineEntry[]): Promise<RequestRow | undefined>;
  /** Commit a pause (and let the request go) if the lease is still this worker's, synchronously. */
  pause(id: string, changes: PauseChanges, events: TimelineEntry[]): Promise<RequestRow | undefined>;
  /** Let the request go, cursor as it is, if the lease is still this worker's. */
  release(id: string): Promise<RequestRow | undefined>;
  /** True once the worker stops: the current call finishes, then the request is released. */
  stopping(): boolean;
  /** Aborted when the worker stops without waiting: the current call is abandoned, the request released. */
  signal: AbortSignal;
  /** Told of each status change committed and each webhook call made. */
  observer?: ExecutionObserver;
}

/** The lease was taken over (this worker stalled past it): stop without writing anything. */
class LeaseLost extends Error {}

function unlessLeaseLost(err: unknown): void {
  if (!(err instanceof LeaseLost)) throw err;
}

/**
 * Execute a request this worker has claimed, from its cursor, until it completes, errors,
 * pauses or is released. Each webhook's result (timeline entry, derived identity, cursor,
 * status) is committed before the next call, and only while the lease is still ours.
 */
export async function executeClaimed(ctx: RunContext, claimed: RequestRow): Promise<void> {
  await new Execution(ctx, claimed).run();
}

class Execution {
  constructor(
    private readonly ctx: RunContext,
    private row: RequestRow,
  ) {}

  async run(): Promise<void> {
    try {
      while (this.row.status === 'in_processing' && this.row.lease_owner === this.ctx.owner) {
        if (this.ctx.stopping()) return await this.release();
        const step = this.row.cursor_step ?? 'pre';
        if (step === 'execute') await this.execute();
        else await this.runWebhooks(step);
      }
    } catch (err) {
      if (err instanceof LeaseLost) return;
      if (this.ctx.signal.aborted) return await this.release();
      const step = this.row.cursor_step ?? 'pre';
      await this.save(failed(step, `internal error in the ${step} step: ${(err as Error).message}`)).catch(unlessLeaseLost);
    }
  }

  /** The execution step on its own: when the cursor is there (a retry from it). */
  private async execute(): Promise<void> {
    await this.save({ ...CURSOR_DONE, cursor_step: 'post' }, [executed(requestIdentity(this.row))]);
  }

  private async runWebhooks(phase: Phase): Promise<void> {
    const list = await this.ctx.webhookList(this.row.policy_key, phase, this.row.config_serial);
    const remaining = remainingAfterCursor(list, this.row);
    for (const [i, hook] of remaining.entries()) {
      if (this.ctx.stopping()) return this.release();
      const { changes, event } = await this.call(hook, phase);
      const stepEnds = i === remaining.length - 1 && changes.status === undefined;
      await (stepEnds ? this.endStep(phase, changes, [event]) : this.save(changes, [event]));
      if (this.row.status !== 'in_processing') return;
    }
    if (remaining.length === 0) await this.endStep(phase, {}, []);
  }

  /**
   * End a webhook step that goes on, in the same write as its last call. After the pre step
   * comes the execution step, which calls nothing: it is recorded in that write too, one
   * commit (one wait for the group commit) fewer per request.
   */
  private async endStep(phase: Phase, changes: Partial<RequestRow>, events: TimelineEntry[]): Promise<void> {
    if (phase === 'post') return this.save({ ...changes, ...completed() }, events);
    const identity = changes.identity === undefined ? requestIdentity(this.row) : (JSON.parse(changes.identity) as Identity);
    await this.save({ ...changes, ...CURSOR_DONE, cursor_step: 'post' }, [...events, executed(identity)]);
  }

  private async call(hook: RunnableWebhook, phase: Phase): Promise<{ changes: Partial<RequestRow>; event: TimelineEntry }> {
    const started = new Date();
    const entry = (fields: Pick<TimelineEntry, 'outcome' | 'reason'> & Partial<TimelineEntry>): TimelineEntry => ({
      webhook_key: hook.key,
      callback_type: phase,
      direction: hook.direction,
      status_code: null,
      started_at: started.toISOString(),
      duration_ms: 0,
      ...fields,
    });
    const after = { cursor_webhook_id: hook.id, cursor_position: hook.position };
    const report = (event: TimelineEntry, called: boolean) =>
      this.ctx.observer?.webhookCall({
        request_id: this.row.id,
        webhook_key: hook.key,
        callback_type: phase,
        outcome: event.outcome,
        status_code: event.status_code,
        duration_ms: event.duration_ms,
        called,
      });
    if (hook.disabled) {
      const event = entry({ outcome: 'skipped', reason: `connection '${hook.connection_key}' is disabled` });
      report(event, false);
      return { changes: after, event };
    }
    if (!hook.secrets) {
      const reason = `webhook '${hook.key}' cannot be called: connection '${hook.connection_key}' has no secrets`;
      const event = entry({ outcome: 'error', reason });
      report(event, false);
      return { changes: failed(phase, reason), event };
    }

    const identity = requestIdentity(this.row);
    const callId = webhookCallId(this.row, hook.id);
    // The token's id is the call's: a receiver that acts on the first delivery of a call (and
    // ignores its re-delivery by webhook-id) resumes with a token that is still the valid one.
    const reply =
      hook.direction === 'two_way' && phase === 'pre'
        ? await issueReplyToken(this.ctx.keys.replyToken, { webhookId: hook.id, privacyRequestId: this.row.id }, this.ctx.resumeTimeoutMinutes, started, callId)
        : undefined;
    const result = await this.ctx.client.call({
      id: callId,
      url: hook.secrets.url,
      authorization: hook.secrets.authorization,
      body: { privacy_request_id: this.row.id, direction: hook.direction, callback_type: phase, identity },
      replyTo: reply && { path: resumePath(this.row.id), token: reply.token },
      timeoutMs: hook.timeout_ms ?? this.ctx.webhookTimeoutMs,
      signal: this.ctx.signal,
    });
    const outcome = interpretCall({ key: hook.key, direction: hook.direction, phase }, result);
    const event = entry({
      outcome: outcome.outcome,
      reason: outcome.reason,
      status_code: 'status' in result ? result.status : null,
      duration_ms: result.durationMs,
    });
    report(event, true);
    const merged = Object.keys(outcome.derived).length > 0 ? { identity: JSON.stringify(mergeIdentity(identity, outcome.derived)) } : {};

    switch (outcome.outcome) {
      case 'error':
        return { changes: failed(phase, outcome.reason!), event };
      case 'halt':
        return {
          changes: {
            ...after,
            ...merged,
            status: 'paused',
            paused_at: new Date().toISOString(),
            pause_webhook_id: hook.id,
            pause_token_jti: reply!.claims.jti,
            pause_expires_at: new Date(reply!.claims.exp * 1000).toISOString(),
          },
          event,
        };
      default:
        return { changes: { ...after, ...merged }, event };
    }
  }

  /**
   * Commit changes if the lease is still ours: a pause on its own, synchronously; any other
   * result with the lease renewed, or released when the request is done.
   */
  private async save(changes: Partial<RequestRow>, events: TimelineEntry[] = []): Promise<void> {
    const { id } = this.row;
    const renewal = changes.lease_owner === null ? {} : { lease_expires_at: new Date(Date.now() + this.ctx.leaseMs).toISOString() };
    this.advance(isPause(changes) ? await this.ctx.pause(id, changes, events) : await this.ctx.commit(id, { ...changes, ...renewal }, events));
  }

  /** Give the request back, cursor as it is: the next claim continues where this one stopped. */
  private async release(): Promise<void> {
    await this.ctx
      .release(this.row.id)
      .then((next) => this.advance(next))
      .catch(unlessLeaseLost);
  }

  /** The row as just committed (none: the lease was lost), told to the observer if its status changed. */
  private advance(next: RequestRow | undefined): void {
    if (!next) throw new LeaseLost();
    const before = this.row;
    this.row = next;
    const event = transitionEvent(before, next);
    if (event) this.ctx.observer?.transition(transitionReport(next, event));
  }
}

/**
 * The id of a webhook call: the request, the webhook and how far the request's timeline had
 * come when the call was made (every committed result advances event_seq). A call made again
 * because its result was never committed (a crash, a lost lease) has the same three, so the same
 * id; any later call — the next webhook, a retry — has another.
 */
export function webhookCallId(row: Pick<RequestRow, 'id' | 'event_seq'>, webhookId: string): string {
  const digest = crypto.createHash('sha256').update(`${row.id}\n${row.event_seq}\n${webhookId}`).digest('base64url');
  return `msg_${digest.slice(0, 27)}`;
}

/** What a committed change of the worker's did to the request, if it changed its status or let it go. */
function transitionEvent(before: RequestRow, after: RequestRow): RequestTransition['event'] | undefined {
  if (after.status === 'paused' || after.status === 'complete' || after.status === 'error') {
    return before.status === after.status ? undefined : after.status;
  }
  return after.lease_owner === null && before.lease_owner !== null ? 'released' : undefined;
}

export function transitionReport(row: RequestRow, event: RequestTransition['event']): RequestTransition {
  return {
    request_id: row.id,
    policy_key: row.policy_key,
    event,
    status: row.status,
    step: row.status === 'error' ? row.failed_step : row.cursor_step,
    failure_reason: row.failure_reason,
  };
}

function isPause(changes: Partial<RequestRow>): changes is PauseChanges {
  return changes.status === 'paused';
}

const CURSOR_DONE = { cursor_step: null, cursor_webhook_id: null, cursor_position: null } as const;

/** The end of the post step: the request is complete. */
function completed(): Partial<RequestRow> {
  return { status: 'complete', finished_processing_at: new Date().toISOString(), ...CURSOR_DONE, ...RELEASED };
}

/** The execution step's record: connectors are out of scope; it names the identity it would use. */
function executed(identity: Identity): TimelineEntry {
  return stepEvent('execute', 'executed', `identity ${JSON.stringify(identity)}`);
}

function failed(step: Step, reason: string): Partial<RequestRow> {
  return { status: 'error', failure_reason: reason, failed_step: step, finished_processing_at: new Date().toISOString(), ...RELEASED };
}

/**
 * The webhooks after the cursor's: after the cursor webhook's current position (as Fides
 * does), or after the position it had if it has been deleted since.
 */
function remainingAfterCursor(list: RunnableWebhook[], row: RequestRow): RunnableWebhook[] {
  if (row.cursor_webhook_id === null || row.cursor_position === null) return list;
  const after = list.find((h) => h.id === row.cursor_webhook_id)?.position ?? row.cursor_position;
  return list.filter((h) => h.position > after);
}
