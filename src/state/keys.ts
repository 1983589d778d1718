import fs from 'node:fs';
import path from 'node:path';
import crypto from 'node:crypto';
import { ExitCode, HookctlError } from '../errors.js';
import type { DatabaseLocation } from './database.js';
import { ensureDir } from '../fs-paths.js';
import { MASTER_KEY_FILE_NAME } from '../model/secrets.js';

/**
 * The master key and the purpose-bound keys derived from it (HKDF-SHA256), so that a key
 * used for one thing (say, API tokens) can never decrypt another (stored secrets).
 */
export interface Keys {
  /** AES-256-GCM key of secrets at rest. */
  secrets: Buffer;
  /** HMAC key of secret fingerprints (plans, state comparison). */
  fingerprint: Buffer;
  /** JWE `dir`/A256GCM key of reply-to tokens. */
  replyToken: Buffer;
  /** JWE `dir`/A256GCM key of API bearer tokens. */
  apiToken: Buffer;
}

export const MASTER_KEY_ENV = 'HOOKCTL_MASTER_KEY';

export function deriveKeys(master: Buffer): Keys {
  const derive = (purpose: string) => Buffer.from(crypto.hkdfSync('sha256', master, Buffer.alloc(0), `hookctl/${purpose}/v1`, 32));
  return {
    secrets: derive('secrets'),
    fingerprint: derive('fingerprint'),
    replyToken: derive('reply-token'),
    apiToken: derive('api-token'),
  };
}

export function parseMasterKey(text: string, source: string): Buffer {
  const key = Buffer.from(text.trim(), 'base64');
  if (key.length !== 32) {
    throw new HookctlError(
      `${source} must be base64 of exactly 32 bytes (got ${key.length})`,
      ExitCode.runtime,
      "generate one with: node -e \"console.log(require('crypto').randomBytes(32).toString('base64'))\"",
    );
  }
  return key;
}

/**
 * HOOKCTL_MASTER_KEY wins. Otherwise, with the embedded SQLite state, the key file beside the
 * database is read, or created (mode 0600) on first use. PostgreSQL state needs the env key:
 * a team database must not depend on one machine's file.
 */
export function loadMasterKey(loc: DatabaseLocation, env: NodeJS.ProcessEnv = process.env): Keys {
  const existing = readMasterKey(loc, env);
  if (existing) return existing;
  if (loc.dialect === 'postgres') {
    throw new HookctlError(
      `${MASTER_KEY_ENV} is required with a PostgreSQL state`,
      ExitCode.runtime,
      'set it to the same base64 key on every machine that uses this database',
    );
  }
  return deriveKeys(createKeyFile(keyFileOf(loc)));
}

/** HOOKCTL_MASTER_KEY, else the SQLite state's key file if it exists: never creates one. */
export function readMasterKey(loc: DatabaseLocation, env: NodeJS.ProcessEnv = process.env): Keys | null {
  const fromEnv = env[MASTER_KEY_ENV];
  if (fromEnv) return deriveKeys(parseMasterKey(fromEnv, MASTER_KEY_ENV));
  if (loc.dialect === 'postgres') return null;
  const key = readKeyFile(keyFileOf(loc));
  return key ? deriveKeys(key) : null;
}

function keyFileOf(loc: DatabaseLocation): string {
  return path.join(path.dirname(loc.target), MASTER_KEY_FILE_NAME);
}

function readKeyFile(file: string): Buffer | null {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw new HookctlError(`cannot read the master key file ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
  return parseMasterKey(text, file);
}

/**
 * A new key file, created so that no process ever reads it half-written: the key is written
 * and synced to a private temporary file first, then linked to its name, which fails if another
 * process got there first — in which case that process's (complete) key is the one.
 */
function createKeyFile(file: string): Buffer {
  const dir = path.dirname(file);
  ensureDir(dir, 'the state folder');
  const key = crypto.randomBytes(32);
  const temp = `${file}.${process.pid}.${crypto.randomBytes(4).toString('hex')}.tmp`;
  try {
    const fd = fs.openSync(temp, 'wx', 0o600);
    try {
      fs.writeSync(fd, `${key.toString('base64')}\n`);
      fs.fsyncSync(fd);
    } finally {
      fs.closeSync(fd);
    }
    linkOrCopy(temp, file);
    return key;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return readKeyFile(file)!;
    throw new HookctlError(`cannot create the master key file ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`, ExitCode.runtime, `set ${MASTER_KEY_ENV} instead, or make the folder writable`);
  } finally {
    fs.rmSync(temp, { force: true });
  }
}

/**
 * Hard-links `temp` to `file` (failing with EEXIST if it exists). Where the file system has no
 * hard links, the file is created exclusively and written in place instead: a process that
 * reads it in that instant may see it empty, and says so (parseMasterKey) rather than guess.
 */
function linkOrCopy(temp: string, file: string): void {
  try {
    fs.linkSync(temp, file);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code !== 'EPERM' && code !== 'ENOTSUP' && code !== 'EOPNOTSUPP') throw err;
    fs.writeFileSync(file, fs.readFileSync(temp), { mode: 0o600, flag: 'wx' });
  }
}
