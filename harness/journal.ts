import type { ResumeToken } from './scenario.js';

/** One intercepted outbound call and how the simulation answered it. */
export interface JournalCall {
  seq: number;
  /** ISO time the call arrived, and milliseconds since the scenario started. */
  time: string;
  elapsed_ms: number;
  url: string;
  method: string;
  /** Header names lower-cased. Holds secrets (authorization, reply-to-token): never print it whole. */
  headers: Record<string, string>;
  /** Parsed JSON body; the raw text when it is not JSON; null when empty. */
  body: unknown;
  /** body.privacy_request_id, when there is one. */
  privacy_request_id: string | null;
  /** Index of the answering endpoint in scenario.endpoints; null for an undeclared endpoint. */
  endpoint: number | null;
  /** Index in that endpoint's `times`; null when the endpoint's own answer was used. */
  step: number | null;
  /** e.g. `200`, `fault: timeout`, `undeclared` — set when the answer was given. */
  answer: string;
  /** How the call ended when the caller gave up first (its AbortSignal fired). */
  aborted_after_ms: number | null;
}

/** One resume callback the simulation sent for a call's `then.resume`. */
export interface JournalResume {
  /** seq of the call whose answer scheduled it. */
  call_seq: number;
  privacy_request_id: string | null;
  token: ResumeToken;
  elapsed_ms: number;
  /** HTTP status and parsed body of the answer (for `reuse`: the second answer); null when not sent. */
  status: number | null;
  body: unknown;
  /** For `reuse`: the answer to the first, normal resume. */
  first: { status: number; body: unknown } | null;
  /** Why no answer was received (no reply-to header, connection refused, …). */
  error: string | null;
}

/** Everything the simulated endpoints saw during one scenario, in arrival order. */
export class Journal {
  readonly calls: JournalCall[] = [];
  readonly resumes: JournalResume[] = [];
  private readonly started = Date.now();

  elapsed(): number {
    return Date.now() - this.started;
  }

  recordCall(call: Omit<JournalCall, 'seq' | 'time' | 'elapsed_ms' | 'answer' | 'aborted_after_ms'>): JournalCall {
    const entry: JournalCall = { seq: this.calls.length + 1, time: new Date().toISOString(), elapsed_ms: this.elapsed(), ...call, answer: 'pending', aborted_after_ms: null };
    this.calls.push(entry);
    return entry;
  }

  recordResume(resume: JournalResume): void {
    this.resumes.push(resume);
  }

  callsOf(requestId: string): JournalCall[] {
    return this.calls.filter((c) => c.privacy_request_id === requestId);
  }

  resumesOf(requestId: string): JournalResume[] {
    return this.resumes.filter((r) => r.privacy_request_id === requestId);
  }
}

/** Parse a body as JSON when it is JSON; otherwise keep the text (null when empty). */
export function parseBody(text: string): unknown {
  if (text === '') return null;
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return text;
  }
}
