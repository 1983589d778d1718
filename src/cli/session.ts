/** What the state-touching commands share: loading manifests, opening the state, the actor. */
import crypto from 'node:crypto';
import os from 'node:os';
import { ExitCode, HookctlError } from '../errors.js';
import { loadManifests } from '../manifest/load.js';
import { formatDiagnostics } from '../manifest/diagnostics.js';
import type { DesiredState } from '../manifest/types.js';
import type { Database } from '../state/database.js';
import { deriveKeys, loadMasterKey, MASTER_KEY_ENV, readMasterKey, type Keys } from '../state/keys.js';
import { MASTER_KEY_FILE_NAME } from '../model/secrets.js';
import { type GlobalOptions, noteSkipped } from './context.js';

/**
 * Manifests or exit 3 with every diagnostic printed; nothing of the state is touched before.
 * With `prune`, paths holding no manifest document at all are refused: a mistyped or empty
 * folder would otherwise plan to delete everything hookctl created.
 */
export function loadDesiredOrExit(paths: string[], g: GlobalOptions, opts: { prune?: boolean } = {}): DesiredState {
  const given = paths.length > 0 ? paths : ['.'];
  const { state, diagnostics, sources, skipped, documentCount } = loadManifests(given, { cwd: process.cwd(), secretsDirs: g.secretsDirs });
  noteSkipped(skipped, g);
  if (diagnostics.length > 0) process.stderr.write(`${formatDiagnostics(diagnostics, 'text', { color: g.stderrColor, sources })}\n`);
  if (!state) throw new HookctlError('manifests are invalid; nothing was read from or written to the state', ExitCode.invalid);
  if (opts.prune && documentCount === 0) {
    throw new HookctlError(
      `no manifests found in ${given.join(', ')}; refusing to prune, which would delete everything hookctl created`,
      ExitCode.invalid,
      'check the paths; to delete everything on purpose, declare the file with empty lists (connection: [], policy: [])',
    );
  }
  return state;
}

export interface StateSession {
  db: Database;
  keys: Keys;
}

/**
 * `readOnly` (plan, export, history): a state that does not exist yet is not created, nor is
 * its master key; the command sees an empty state instead. Without a key to read, a throwaway
 * one serves: it only makes the fingerprints and signature of a plan that cannot be applied
 * anyway (see NO_STATE_ID).
 */
export async function openState(g: GlobalOptions, opts: { readOnly?: boolean } = {}): Promise<StateSession> {
  // Imported here, not at the top: commands without a state (validate, fmt) start without them.
  const { openDatabase, openEmptyState, openExistingDatabase, parseDatabaseUrl } = await import('../state/database.js');
  const loc = parseDatabaseUrl(g.databaseUrl, process.cwd());
  if (opts.readOnly) {
    const existing = await openExistingDatabase(loc);
    const keys = readMasterKey(loc);
    if (!existing) return { db: await openEmptyState(), keys: keys ?? deriveKeys(crypto.randomBytes(32)) };
    if (!keys) {
      await existing.close();
      throw missingKey(existing);
    }
    return checkedSession(existing, keys);
  }
  const keys = loadMasterKey(loc);
  return checkedSession(await openDatabase(loc), keys);
}

/** An existing state with no key to read it with (a new key could never match: none is made). */
function missingKey(db: Database): HookctlError {
  const where = db.dialect === 'postgres' ? MASTER_KEY_ENV : `${MASTER_KEY_ENV} or ${MASTER_KEY_FILE_NAME} beside the database`;
  return new HookctlError(`the state ${db.displayUrl} exists, but no master key was found (${where})`, ExitCode.runtime, 'set HOOKCTL_MASTER_KEY to the key the state was created with');
}

async function checkedSession(db: Database, keys: Keys): Promise<StateSession> {
  const { checkMasterKey } = await import('../state/master-key-check.js');
  try {
    await checkMasterKey(db.knex, keys);
  } catch (err) {
    await db.close();
    throw err;
  }
  return { db, keys };
}

/** Who applies: the CI actor where there is one, else the local user. */
export function currentActor(env: NodeJS.ProcessEnv = process.env): string {
  if (env.GITHUB_ACTOR) return `github:${env.GITHUB_ACTOR}`;
  if (env.GITLAB_USER_LOGIN) return `gitlab:${env.GITLAB_USER_LOGIN}`;
  return env.USER ?? env.USERNAME ?? os.userInfo().username;
}
