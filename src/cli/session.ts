/** What the state-touching commands share: loading manifests, opening the state, the actor. */
import os from 'node:os';
import { ExitCode, HookctlError } from '../errors.js';
import { loadManifests } from '../manifest/load.js';
import { formatDiagnostics } from '../manifest/diagnostics.js';
import type { DesiredState } from '../manifest/types.js';
import { openDatabase, parseDatabaseUrl, type Database } from '../state/database.js';
import { loadMasterKey, type Keys } from '../state/keys.js';
import { checkMasterKey } from '../state/config-store.js';
import { type GlobalOptions, noteSkipped } from './context.js';

/** Manifests or exit 3 with every diagnostic printed; nothing of the state is touched before. */
export function loadDesiredOrExit(paths: string[], g: GlobalOptions): DesiredState {
  const { state, diagnostics, sources, skipped } = loadManifests(paths.length > 0 ? paths : ['.'], { cwd: process.cwd(), secretsDirs: g.secretsDirs });
  noteSkipped(skipped, g);
  if (diagnostics.length > 0) process.stderr.write(`${formatDiagnostics(diagnostics, 'text', { color: g.color, sources })}\n`);
  if (!state) throw new HookctlError('manifests are invalid; nothing was read from or written to the state', ExitCode.invalid);
  return state;
}

export interface StateSession {
  db: Database;
  keys: Keys;
}

export async function openState(g: GlobalOptions): Promise<StateSession> {
  const loc = parseDatabaseUrl(g.databaseUrl, process.cwd());
  const keys = loadMasterKey(loc);
  const db = await openDatabase(loc);
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
