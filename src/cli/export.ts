import fs from 'node:fs';
import path from 'node:path';
import type { Command } from 'commander';
import { globalOptions } from './context.js';
import { openState } from './session.js';
import { ensureDir } from '../fs-paths.js';
import { addFidesTargetOptions, fidesSettings, openFidesClient, type FidesTargetFlags } from './fides-target.js';

export function registerExport(program: Command): Command {
  const cmd = program
    .command('export')
    .description('write the stored state (or a Fides server\'s configuration, --fides-url) as manifests (secrets as env refs, never values)')
    .option('--out <dir>', 'write hookctl-export.yaml into this folder instead of stdout');
  return addFidesTargetOptions(cmd).action(async (opts: { out?: string } & Partial<FidesTargetFlags>, cmd: Command) => {
      const fides = await fidesSettings(opts);
      const { readState } = await import('../state/config-store.js');
      const { exportManifests } = await import('../reconcile/export.js');
      const { db, keys } = await openState(globalOptions(cmd), { readOnly: true });
      let result;
      try {
        if (fides) {
          const { readFidesForExport } = await import('../reconcile/fides-target.js');
          const client = await openFidesClient(fides);
          try {
            const live = await readFidesForExport(db.knex, keys, client);
            result = exportManifests(live.stored, { literalUrls: live.clearUrls, source: fides.target });
          } finally {
            await client.close();
          }
        } else result = exportManifests(await readState(db.knex));
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
