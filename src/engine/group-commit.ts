import type { Knex } from 'knex';
import { transitions, type RequestRow, type TransitionInput } from './requests.js';

interface Pending {
  input: TransitionInput;
  resolve(rows: RequestRow[]): void;
  reject(err: unknown): void;
}

/**
 * Group commit of a worker's transitions: one goes to the database at once; those asked for
 * while it commits wait and then commit together, in one transaction. With many requests in
 * flight this turns a commit (a BEGIN, a COMMIT, a sync to disk) per webhook call into one per
 * batch, which is what bounds throughput on SQLite's single connection. An idle worker commits
 * at once: no timer, no added latency.
 */
export class GroupCommit {
  private queue: Pending[] = [];
  private committing = false;

  constructor(
    private readonly knex: Knex,
    private readonly maxBatch = 64,
  ) {}

  /** `transition()` (requests.ts), committed with whatever else is waiting. */
  transition(input: TransitionInput): Promise<RequestRow[]> {
    return new Promise((resolve, reject) => {
      this.queue.push({ input, resolve, reject });
      this.next();
    });
  }

  private next(): void {
    if (this.committing || this.queue.length === 0) return;
    this.committing = true;
    const batch = this.queue.splice(0, this.maxBatch);
    void this.commit(batch).finally(() => {
      this.committing = false;
      this.next();
    });
  }

  private async commit(batch: Pending[]): Promise<void> {
    try {
      const updated = await transitions(
        this.knex,
        batch.map((p) => p.input),
      );
      batch.forEach((p, i) => p.resolve(updated[i]!));
    } catch (err) {
      if (batch.length === 1) return batch[0]!.reject(err);
      // The transaction wrote nothing: commit each alone, so that a bad write fails only its own request.
      await Promise.all(batch.map((p) => transitions(this.knex, [p.input]).then(([rows]) => p.resolve(rows!), p.reject)));
    }
  }
}
