import type { Database } from '../state/database.js';
import { commitResults, type GuardedWrite } from '../state/request-store.js';
import type { RequestRow } from '../state/request-types.js';

interface Pending {
  write: GuardedWrite;
  resolve(rows: RequestRow[]): void;
  reject(err: unknown): void;
}

/**
 * Group commit of a worker's results: one goes to the database at once; those asked for
 * while it commits wait and then commit together, in one transaction. With many requests in
 * flight this turns a commit (a BEGIN, a COMMIT) per webhook call into one per batch, which is
 * what bounds throughput on SQLite's single connection. An idle worker commits at once: no
 * timer, no added latency.
 */
export class GroupCommit {
  private queue: Pending[] = [];
  private committing = false;

  constructor(
    private readonly db: Database,
    private readonly maxBatch = 64,
  ) {}

  /** `commitResults()` of this write, with whatever else is waiting: its updated row, or none if its guard no longer matched. */
  transition(write: GuardedWrite): Promise<RequestRow[]> {
    return new Promise((resolve, reject) => {
      this.queue.push({ write, resolve, reject });
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
      const updated = await commitResults(
        this.db,
        batch.map((p) => p.write),
      );
      batch.forEach((p, i) => p.resolve(updated[i]!));
    } catch (err) {
      if (batch.length === 1) return batch[0]!.reject(err);
      // The transaction wrote nothing: commit each alone, so that a bad write fails only its own request.
      await Promise.all(batch.map((p) => commitResults(this.db, [p.write]).then(([rows]) => p.resolve(rows!), p.reject)));
    }
  }
}
