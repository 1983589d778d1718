/**
 * What the commands share about flags and the process: numeric and duration flags parsed by one
 * rule (a bad or out-of-range value is a usage error naming the flag, the value and what is
 * allowed), the error of a port that cannot be listened on, and waiting for a stop signal.
 */
import { Option } from 'commander';
import { ExitCode, HookctlError } from '../errors.js';
import { formatDuration, UNIT_MS, type DurationUnit as Unit } from '../durations.js';

export interface DurationSpec {
  flag: string;
  /** The unit of a bare number, as the flag has always documented it. */
  bareUnit: Unit;
  minMs: number;
  maxMs: number;
  /** The environment variable read when the flag is not given. */
  env?: string;
}

/** Every duration flag, with its range: one place to read what each accepts. */
export const DURATIONS = {
  lockTimeout: { flag: '--lock-timeout', bareUnit: 's', minMs: 0, maxMs: UNIT_MS.d },
  ttl: { flag: '--ttl', bareUnit: 's', minMs: UNIT_MS.s, maxMs: 365 * UNIT_MS.d },
  webhookTimeout: { flag: '--webhook-timeout', bareUnit: 'ms', minMs: 1, maxMs: 10 * UNIT_MS.m, env: 'HOOKCTL_WEBHOOK_TIMEOUT_MS' },
  resumeTimeout: { flag: '--resume-timeout', bareUnit: 'm', minMs: UNIT_MS.s, maxMs: 365 * UNIT_MS.d, env: 'HOOKCTL_PRIVACY_REQUEST_DELAY_TIMEOUT' },
  workerLease: { flag: '--worker-lease', bareUnit: 'ms', minMs: 100, maxMs: UNIT_MS.h, env: 'HOOKCTL_WORKER_LEASE_MS' },
  requestTimeout: { flag: '--request-timeout', bareUnit: 's', minMs: 100, maxMs: UNIT_MS.h },
  wait: { flag: '--wait', bareUnit: 's', minMs: 0, maxMs: UNIT_MS.d },
  fidesTimeout: { flag: '--fides-timeout', bareUnit: 's', minMs: 1, maxMs: UNIT_MS.h },
} as const satisfies Record<string, DurationSpec>;

/** The commander option of a duration flag, reading its environment variable when it has one. */
export function durationOption(spec: DurationSpec, description: string): Option {
  const option = new Option(`${spec.flag} <duration>`, description);
  return spec.env === undefined ? option : option.env(spec.env);
}

/** `500ms`, `30s`, `5m`, `1h`, `1d`, or a bare number in the flag's unit → milliseconds. */
export function parseDuration(text: string, spec: DurationSpec): number {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h|d)?$/.exec(text.trim());
  if (!m) throw usage(`${spec.flag} '${text}' is not a duration`, `write it like 500ms, 30s, 5m, 1h or 1d (a bare number is in ${UNIT_WORDS[spec.bareUnit]})`);
  const ms = Math.round(Number(m[1]) * UNIT_MS[(m[2] as Unit | undefined) ?? spec.bareUnit]);
  if (ms < spec.minMs || ms > spec.maxMs) {
    throw usage(`${spec.flag} '${text}' is out of range`, `use ${formatDuration(spec.minMs)} to ${formatDuration(spec.maxMs)}`);
  }
  return ms;
}

/** An optional duration (flag or environment variable not given → undefined). */
export function parseOptionalDuration(text: string | undefined, spec: DurationSpec): number | undefined {
  return text === undefined || text === '' ? undefined : parseDuration(text, spec);
}

const UNIT_WORDS: Record<Unit, string> = { ms: 'milliseconds', s: 'seconds', m: 'minutes', h: 'hours', d: 'days' };

/** A whole number in [min, max], written in plain digits. */
export function parseInteger(text: string, flag: string, min: number, max = Number.MAX_SAFE_INTEGER): number {
  const n = Number(text);
  if (!/^\d{1,15}$/.test(text.trim()) || n < min || n > max) {
    throw usage(`${flag} '${text}' is not an integer from ${min} to ${max === Number.MAX_SAFE_INTEGER ? 'any' : max}`);
  }
  return n;
}

/** A TCP port; 0 lets the system choose. */
export function parsePort(text: string, flag = '--port'): number {
  return parseInteger(text, flag, 0, 65_535);
}

/** A server that could not listen: the address said plainly, in use or not. */
export function listenError(err: unknown, host: string, port: number): HookctlError {
  const inUse = (err as NodeJS.ErrnoException).code === 'EADDRINUSE';
  return new HookctlError(
    `cannot listen on ${host}:${port}: ${inUse ? 'the address is in use' : (err as Error).message}`,
    ExitCode.runtime,
    inUse ? 'stop the other server or choose another --port' : undefined,
  );
}

/**
 * Resolves with the first SIGINT or SIGTERM, for a command that runs until stopped. The handlers
 * run once: a second signal gets Node's default handling (immediate exit).
 */
export function shutdownSignal(): Promise<NodeJS.Signals> {
  return new Promise((resolve) => {
    for (const s of ['SIGTERM', 'SIGINT'] as const) process.once(s, () => resolve(s));
  });
}

function usage(message: string, hint?: string): HookctlError {
  return new HookctlError(message, ExitCode.usage, hint);
}
