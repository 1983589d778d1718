import type { Command } from 'commander';
import { globalOptions } from './context.js';
import { openState } from './session.js';
import { addFidesTargetOptions, fidesSettings, type FidesTargetFlags } from './fides-target.js';

export function registerHistory(program: Command): Command {
  const cmd = program
    .command('history')
    .description('list applied revisions, newest first (of a Fides server with --fides-url: read from the bookkeeping, no call to it)')
    .option('--json', 'print [{serial, applied_at, actor, manifest_digest, summary}] (and partial, with --fides-url)');
  return addFidesTargetOptions(cmd, { calls: false }).action(async (opts: { json?: boolean } & Partial<FidesTargetFlags>, cmd: Command) => {
      const fides = await fidesSettings(opts);
      const { readHistory } = await import('../state/history.js');
      const { readTargetHistory } = await import('../state/fides-targets.js');
      const { db } = await openState(globalOptions(cmd), { readOnly: true });
      let revisions;
      try {
        revisions = fides ? await readTargetHistory(db.knex, fides.target) : await readHistory(db.knex);
      } finally {
        await db.close();
      }
      const rows = revisions.map(({ serial, applied_at, actor, manifest_digest, summary, ...rest }) => ({
        serial,
        applied_at,
        actor,
        manifest_digest,
        summary,
        ...('partial' in rest && { partial: rest.partial === true }),
      }));
      if (opts.json) {
        process.stdout.write(`${JSON.stringify(rows, null, 2)}\n`);
        return;
      }
      if (rows.length === 0) {
        process.stdout.write(`No revisions yet: nothing has been applied to ${fides ? fides.target : 'this state'}.\n`);
        return;
      }
      const lines = [['SERIAL', 'APPLIED AT', 'ACTOR', 'MANIFEST DIGEST', 'CHANGES']];
      for (const r of rows) {
        const s = r.summary;
        lines.push([String(r.serial), r.applied_at, r.actor, r.manifest_digest.slice(0, 12), `+${s.add} ~${s.change} -${s.delete} ↕${s.move}${r.partial ? '  partial' : ''}`]);
      }
      const widths = lines[0]!.map((_, i) => Math.max(...lines.map((l) => l[i]!.length)));
      process.stdout.write(`${lines.map((l) => l.map((c, i) => c.padEnd(widths[i]!)).join('  ').trimEnd()).join('\n')}\n`);
    });
}
