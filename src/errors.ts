/** Exit codes of every hookctl command: scripts and CI branch on them, so each means one thing. */
export const ExitCode = {
  ok: 0,
  runtime: 1,
  changes: 2,
  invalid: 3,
  simulationFailed: 4,
  locked: 5,
  stalePlan: 6,
  usage: 64,
  /** Ctrl-C (128 + SIGINT), as shells report a process killed by it. */
  interrupted: 130,
} as const;
export type ExitCodeValue = (typeof ExitCode)[keyof typeof ExitCode];

/**
 * An error meant for the user: printed as one `error: …` line (plus the hint), never with a
 * stack trace unless --debug. Anything else that escapes is a bug and exits 1.
 */
export class HookctlError extends Error {
  constructor(
    message: string,
    readonly exitCode: ExitCodeValue = ExitCode.runtime,
    readonly hint?: string,
  ) {
    super(message);
    this.name = 'HookctlError';
  }
}
