import fs from 'node:fs';
import path from 'node:path';
import type { Command } from 'commander';
import { globalOptions } from './context.js';
import { openState } from './session.js';
import { ensureDir } from '../fs-paths.js';

export function registerExport(program: Command): Command {
  return program
    .command('export')
    .description('write the stored state as manifests (secrets as env refs, never values)')
    .option('--out <dir>', 'write hookctl-export.yaml into this folder instead of stdout')
    .action(async (opts: { out?: string }, cmd: Command) => {
      const { readState } = await import('../state/config-store.js');
      const { exportManifests } = await import('../reconcile/export.js');
      const { db } = await openState(globalOptions(cmd), { readOnly: true });
      let result;
      try {
        result = exportManifests(await readState(db.knex));
      } finally {
        await db.close();
      }
      if (!opts.out) {
        process.stdout.write(result.yaml);
        return;
      }
      ensureDir(opts.out, 'the export folder');
      const file = path.join(opts.out, 'hookctl-export.yaml');
      fs.writeFileSync(file, result.yaml);
      process.stderr.write(`Wrote ${file}; its secret refs name ${result.variables.length} environment variable(s), listed at its top.\n`);
    });
}
