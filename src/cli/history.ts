import type { Command } from 'commander';
import { globalOptions } from './context.js';
import { openState } from './session.js';

export function registerHistory(program: Command): Command {
  return program
    .command('history')
    .description('list applied revisions, newest first')
    .option('--json', 'print [{serial, applied_at, actor, manifest_digest, summary}]')
    .action(async (opts: { json?: boolean }, cmd: Command) => {
      const { readHistory } = await import('../state/history.js');
      const { db } = await openState(globalOptions(cmd), { readOnly: true });
      let revisions;
      try {
        revisions = await readHistory(db.knex);
      } finally {
        await db.close();
      }
      const rows = revisions.map(({ serial, applied_at, actor, manifest_digest, summary }) => ({ serial, applied_at, actor, manifest_digest, summary }));
      if (opts.json) {
        process.stdout.write(`${JSON.stringify(rows, null, 2)}\n`);
        return;
      }
      if (rows.length === 0) {
        process.stdout.write('No revisions yet: nothing has been applied to this state.\n');
        return;
      }
      const lines = [['SERIAL', 'APPLIED AT', 'ACTOR', 'MANIFEST DIGEST', 'CHANGES']];
      for (const r of rows) {
        const s = r.summary;
        lines.push([String(r.serial), r.applied_at, r.actor, r.manifest_digest.slice(0, 12), `+${s.add} ~${s.change} -${s.delete} ↕${s.move}`]);
      }
      const widths = lines[0]!.map((_, i) => Math.max(...lines.map((l) => l[i]!.length)));
      process.stdout.write(`${lines.map((l) => l.map((c, i) => c.padEnd(widths[i]!)).join('  ').trimEnd()).join('\n')}\n`);
    });
}
