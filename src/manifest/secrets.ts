/**
 * Secret refs → values, at plan/apply time, and the rules that confine refs. Errors name the
 * ref and the connection, never a value (nor any part of one).
 *
 * Manifests come from pull requests, and a resolved secret is sent to the URL the same manifest
 * declares: a ref that could read any file or any variable would let one pull request ship the
 * master key or /etc/passwd to its author. So a file ref stays inside the manifest root or a
 * secrets dir (symlinks followed), is a small regular file, and an env ref never names one of
 * hookctl's own variables.
 */
import fs from 'node:fs';
import path from 'node:path';
import { ExitCode, HookctlError } from '../errors.js';
import { checkSecretValue, isStateFile } from '../model/secrets.js';
import { SECRET_FIELDS, type HttpsSecrets } from '../model/types.js';
import type { DesiredConnection, SecretInput, SecretRef } from './types.js';

export { checkWebhookUrl } from '../model/secrets.js';

/** The largest secret file read; a secret is a token or a URL, never megabytes. */
export const MAX_SECRET_FILE_BYTES = 64 * 1024;

type RefInput = Extract<SecretInput, { ref: SecretRef }>;

/** How a secret is supplied, for plans and messages: never its value. */
export function describeSecretInput(input: SecretInput): string {
  if ('value' in input) return 'literal';
  return 'env' in input.ref ? `env ${input.ref.env}` : `file ${input.ref.file}`;
}

/**
 * hookctl's own variables (master key, database URL, OAuth client…) are never secret refs;
 * `HOOKCTL_SECRET_*` are, since `export` writes those names. Case-insensitive, as on Windows.
 */
export function isReservedEnvName(name: string): boolean {
  const upper = name.toUpperCase();
  return upper.startsWith('HOOKCTL_') && !upper.startsWith('HOOKCTL_SECRET_');
}

const stateFileProblem: RefProblem = {
  code: 'secret-file-is-state',
  reason: "is hookctl's own state (its master key or database folder), never a secret",
  hint: 'keep secrets in files of their own; hookctl refuses to send its master key or state anywhere',
};

export interface RefProblem {
  /** Diagnostic code for `validate`. */
  code: 'reserved-env-ref' | 'secret-file-outside-root' | 'secret-file-is-state';
  /** Follows the ref's description: `env NAME <reason>`. */
  reason: string;
  hint: string;
}

/**
 * A ref's problem as written, before anything is read: a reserved variable, or a file path
 * that leaves the manifest root and every secrets dir. Symlinks are not followed here (that
 * needs the files; `resolveSecretInput` does it).
 */
export function secretRefProblem(input: RefInput, secretsDirs: readonly string[]): RefProblem | null {
  if ('env' in input.ref) {
    if (!isReservedEnvName(input.ref.env)) return null;
    return {
      code: 'reserved-env-ref',
      reason: "is one of hookctl's own variables and cannot be a secret ref",
      hint: 'secret refs may not read HOOKCTL_* variables (master key, database URL, …); HOOKCTL_SECRET_* names are allowed',
    };
  }
  const file = path.resolve(input.baseDir, input.ref.file);
  if (isStateFile(file)) return stateFileProblem;
  if ([input.root, ...secretsDirs].some((dir) => isInside(file, path.resolve(dir)))) return null;
  return {
    code: 'secret-file-outside-root',
    reason: `is outside the manifest root (${input.root}) and every secrets dir`,
    hint: 'file refs must stay inside the folder named on the command line; allow another folder with --secrets-dir DIR (or HOOKCTL_SECRETS_DIR)',
  };
}

/**
 * The secret's value. `where` (e.g. "connection 'k', secrets.url") goes into error messages.
 * A file's trailing newlines are trimmed; an empty value is an error like a missing one.
 * Errors: exit 3 for a ref that is invalid as written, exit 1 for one that cannot be resolved.
 */
export function resolveSecretInput(input: SecretInput, env: Record<string, string | undefined>, where?: string, secretsDirs: readonly string[] = []): string {
  if ('value' in input) return input.value;
  const ref = `secret ref ${describeSecretInput(input)}${where ? ` (${where})` : ''}`;
  const problem = secretRefProblem(input, secretsDirs);
  if (problem) throw new HookctlError(`${ref} ${problem.reason}`, ExitCode.invalid, problem.hint);
  if ('env' in input.ref) {
    const value = env[input.ref.env];
    if (value === undefined) {
      throw new HookctlError(`${ref} is not set`, ExitCode.runtime, `export ${input.ref.env} before running hookctl, or change the ref in the manifest`);
    }
    if (value === '') throw new HookctlError(`${ref} is set but empty`, ExitCode.runtime, `give ${input.ref.env} the secret's value`);
    return value;
  }
  const file = path.resolve(input.baseDir, input.ref.file);
  const content = readConfinedFile(file, [input.root, ...secretsDirs], (reason, hint) => new HookctlError(`${ref}: ${file} ${reason}`, ExitCode.runtime, hint));
  const value = content.replace(/(\r?\n)+$/, '');
  if (value === '') throw new HookctlError(`${ref}: ${file} is empty`, ExitCode.runtime, 'write the secret into the file');
  return value;
}

/**
 * A file's text, read only if its real path (symlinks followed) is inside one of `dirs`, it is a
 * regular file and at most MAX_SECRET_FILE_BYTES long. Nothing else is ever opened, and never
 * more than the cap is read: a device, a FIFO or a huge file cannot hang or exhaust memory.
 */
function readConfinedFile(file: string, dirs: readonly string[], fail: (reason: string, hint: string) => HookctlError): string {
  let real: string;
  try {
    real = fs.realpathSync(file);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') throw fail('does not exist', "file refs are relative to the manifest file's folder");
    throw fail('cannot be read', 'check the file and its permissions');
  }
  if (isStateFile(real)) throw fail(stateFileProblem.reason, stateFileProblem.hint);
  if (!dirs.some((dir) => isInside(real, realDir(dir)))) {
    throw fail(
      `leads outside the manifest root and every secrets dir through a symlink (to ${real})`,
      'a file ref must resolve, symlinks followed, inside the manifest root; allow another folder with --secrets-dir DIR (or HOOKCTL_SECRETS_DIR)',
    );
  }
  const notRegular = (st: fs.Stats) => fail(`is not a regular file (it is ${fileKind(st)})`, 'a file ref must name a regular file holding the secret');
  const tooLarge = () => fail(`is larger than ${MAX_SECRET_FILE_BYTES / 1024} KiB`, 'a secret file holds one token or URL');
  // stat first: a device is never even opened (opening some has side effects).
  let st: fs.Stats;
  try {
    st = fs.statSync(real);
  } catch {
    throw fail('cannot be read', 'check the file and its permissions');
  }
  if (!st.isFile()) throw notRegular(st);
  if (st.size > MAX_SECRET_FILE_BYTES) throw tooLarge();
  let fd: number;
  try {
    // O_NONBLOCK: should the path have become a FIFO since the stat, opening it does not wait
    // for a writer; O_NOFOLLOW: nor may it have become a symlink.
    fd = fs.openSync(real, fs.constants.O_RDONLY | fs.constants.O_NONBLOCK | fs.constants.O_NOFOLLOW);
  } catch {
    throw fail('cannot be read', 'check the file and its permissions');
  }
  try {
    const opened = fs.fstatSync(fd);
    if (!opened.isFile()) throw notRegular(opened);
    if (opened.size > MAX_SECRET_FILE_BYTES) throw tooLarge();
    const buffer = Buffer.alloc(MAX_SECRET_FILE_BYTES + 1);
    let length = 0;
    for (;;) {
      const n = fs.readSync(fd, buffer, length, buffer.length - length, null);
      if (n === 0) break;
      length += n;
      // It grew since the fstat.
      if (length > MAX_SECRET_FILE_BYTES) throw tooLarge();
    }
    return buffer.subarray(0, length).toString('utf8');
  } catch (err) {
    if (err instanceof HookctlError) throw err;
    throw fail('cannot be read', 'check the file and its permissions');
  } finally {
    fs.closeSync(fd);
  }
}

function fileKind(st: fs.Stats): string {
  if (st.isDirectory()) return 'a folder';
  if (st.isFIFO()) return 'a FIFO';
  if (st.isCharacterDevice() || st.isBlockDevice()) return 'a device';
  if (st.isSocket()) return 'a socket';
  return 'not a file';
}

/** `file` is `dir` or below it (both absolute and normalised). */
function isInside(file: string, dir: string): boolean {
  const rel = path.relative(dir, file);
  return rel === '' || (rel !== '..' && !rel.startsWith(`..${path.sep}`) && !path.isAbsolute(rel));
}

/** A folder's real path; one that does not exist holds nothing, its own path will do. */
function realDir(dir: string): string {
  try {
    return fs.realpathSync(dir);
  } catch {
    return path.resolve(dir);
  }
}

/**
 * Every declared connection's secrets, resolved and checked. All problems are reported at once,
 * one `error:` line each (a CI run shows every unset variable, not one per run): exit 1 when any
 * ref cannot be resolved (the environment must be fixed first), else exit 3 for refs invalid as
 * written or values that break the secret rules (the URL rule, no CR/LF/NUL in authorization).
 */
export function resolveAllSecrets(
  refs: Iterable<[string, Record<keyof HttpsSecrets, SecretInput>]>,
  env: Record<string, string | undefined>,
  secretsDirs: readonly string[] = [],
): Map<string, HttpsSecrets> {
  const values = new Map<string, HttpsSecrets>();
  const problems: HookctlError[] = [];
  for (const [connection, inputs] of refs) {
    const resolved: Partial<HttpsSecrets> = {};
    for (const field of SECRET_FIELDS) {
      const where = `connection '${connection}', secrets.${field}`;
      const input = inputs[field];
      let value: string;
      try {
        value = resolveSecretInput(input, env, where, secretsDirs);
      } catch (err) {
        if (!(err instanceof HookctlError)) throw err;
        problems.push(err);
        continue;
      }
      const reason = checkSecretValue(field, value);
      if (reason) problems.push(invalidValue(field, where, input, reason));
      else resolved[field] = value;
    }
    if (resolved.url !== undefined && resolved.authorization !== undefined) values.set(connection, { url: resolved.url, authorization: resolved.authorization });
  }
  if (problems.length > 0) throw combine(problems);
  return values;
}

/** Both secrets of one connection (see resolveAllSecrets). */
export function resolveConnectionSecrets(
  connectionKey: string,
  secrets: DesiredConnection['secrets'],
  env: Record<string, string | undefined>,
  secretsDirs: readonly string[] = [],
): HttpsSecrets {
  return resolveAllSecrets([[connectionKey, secrets]], env, secretsDirs).get(connectionKey)!;
}

function invalidValue(field: keyof HttpsSecrets, where: string, input: SecretInput, reason: string): HookctlError {
  return field === 'url'
    ? new HookctlError(
        `${where} (${describeSecretInput(input)}) is not an allowed webhook URL: ${reason}`,
        ExitCode.invalid,
        'webhook URLs must be https:// (http:// only for 127.0.0.1, localhost or [::1]), without user or password',
      )
    : new HookctlError(`${where} (${describeSecretInput(input)}) is not an allowed authorization: ${reason}`, ExitCode.invalid, 'an authorization is one header value: a single line');
}

/** One error listing every problem, one `error:` line each; the hint when they share one. */
function combine(problems: HookctlError[]): HookctlError {
  if (problems.length === 1) return problems[0]!;
  const code = problems.some((p) => p.exitCode === ExitCode.runtime) ? ExitCode.runtime : ExitCode.invalid;
  const hints = new Set(problems.map((p) => p.hint));
  const hint = hints.size === 1 ? problems[0]!.hint : 'fix every secret ref above: set the variables, create the files, or change the refs';
  return new HookctlError(problems.map((p) => p.message).join('\nerror: '), code, hint);
}
