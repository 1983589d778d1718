import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { ExitCode, HookctlError } from './errors.js';

/**
 * `mkdir -p` that fails instead of hanging: Node's recursive mkdirSync spins for ever on paths
 * it can never create (under /proc, for one). Each missing folder is made on its own, from the
 * top down; a folder another process makes meanwhile is fine. `what` names the folder's use.
 */
export function ensureDir(dir: string, what: string): void {
  const missing: string[] = [];
  for (let d = path.resolve(dir); ; d = path.dirname(d)) {
    let stat: fs.Stats | undefined;
    try {
      stat = fs.statSync(d);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw cannotCreate(dir, what, err);
    }
    if (stat) {
      if (!stat.isDirectory()) throw cannotCreate(dir, what, Object.assign(new Error(), { code: 'ENOTDIR' }));
      break;
    }
    if (path.dirname(d) === d) break;
    missing.unshift(d);
  }
  for (const d of missing) {
    try {
      fs.mkdirSync(d);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw cannotCreate(dir, what, err);
    }
  }
}

function cannotCreate(dir: string, what: string, err: unknown): HookctlError {
  const code = (err as NodeJS.ErrnoException).code ?? (err as Error).message;
  return new HookctlError(`cannot create ${what} ${dir}: ${code}`, ExitCode.runtime, 'choose a folder that can be written to');
}

/**
 * A folder of schemas/ shipped with hookctl (`api`, `fides`): the first one holding `marker`
 * above this module, which is in src/ for tests and in dist/src/ for the built CLI.
 */
export function shippedSchemaDir(name: string, marker: string): string {
  for (let dir = path.dirname(fileURLToPath(import.meta.url)); ; dir = path.dirname(dir)) {
    const candidate = path.join(dir, 'schemas', name);
    if (fs.existsSync(path.join(candidate, marker))) return candidate;
    if (path.dirname(dir) === dir) throw new Error(`schemas/${name}/ not found beside the hookctl installation`);
  }
}
