/**
 * The master key must be the one the state was created with: a different key would make every
 * secret look changed (and re-encrypt some under the new key). The first use records a keyed
 * check value; later uses compare it.
 */
import { ExitCode, HookctlError } from '../errors.js';
import { fingerprint } from './crypto.js';
import type { Keys } from './keys.js';
import type { Queryable } from './queryable.js';

export async function checkMasterKey(q: Queryable, keys: Keys): Promise<void> {
  const expected = fingerprint(keys.fingerprint, 'hookctl-key-check');
  let row: { value: string } | undefined = await q('hookctl_meta').where({ name: 'key_check' }).first('value');
  if (!row) {
    // Two first uses at once: one insert wins, and the other process compares against it.
    await q('hookctl_meta').insert({ name: 'key_check', value: expected }).onConflict('name').ignore();
    row = await q('hookctl_meta').where({ name: 'key_check' }).first('value');
  }
  if (row?.value !== expected) {
    throw new HookctlError(
      'the master key does not match the key this state was created with',
      ExitCode.runtime,
      'set HOOKCTL_MASTER_KEY (or .hookctl/master.key) to the original key; secrets cannot be read with another one',
    );
  }
}
