/**
 * In-process wake-up: creating, resuming or retrying a request announces work, and the
 * workers of this process claim it at once instead of at their next poll. Other processes
 * (several `serve` on one PostgreSQL) find it by polling.
 */
import { EventEmitter } from 'node:events';

const workQueued = new EventEmitter().setMaxListeners(0);

export function announceWork(): void {
  workQueued.emit('work');
}

export function onWorkQueued(listener: () => void): () => void {
  workQueued.on('work', listener);
  return () => workQueued.off('work', listener);
}
