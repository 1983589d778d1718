import type { Command } from 'commander';
import { ExitCode } from '../errors.js';
import { globalOptions } from './context.js';
import { painter } from '../paint.js';
import { loadDesiredOrExit, openState } from './session.js';

export function registerPlan(program: Command): Command {
  return program
    .command('plan')
    .description('diff the manifests against the stored state and print the changes')
    .argument('[paths...]', 'manifest files or folders (default .)')
    .option('--out <file>', 'save the plan (JSON) for hookctl apply --plan')
    .option('--json', 'print the plan document on stdout')
    .option('--detailed-exitcode', 'exit 2 when there are changes, 0 when there are none')
    .option('--prune', 'delete unmanaged connections and policies that hookctl created')
    .action(async (paths: string[], opts: { out?: string; json?: boolean; detailedExitcode?: boolean; prune?: boolean }, cmd: Command) => {
      const g = globalOptions(cmd);
      const desired = loadDesiredOrExit(paths, g, { prune: opts.prune === true });
      const { makePlan } = await import('../reconcile/plan.js');
      const { renderPlan } = await import('../reconcile/render.js');
      const { planDocument, writePlanFile } = await import('../reconcile/saved-plan.js');
      const { db, keys } = await openState(g, { readOnly: true });
      let plan;
      try {
        plan = await makePlan(db, keys, desired, { prune: opts.prune === true, env: process.env, secretsDirs: g.secretsDirs });
      } finally {
        await db.close();
      }
      if (opts.json) process.stdout.write(`${JSON.stringify(planDocument(plan, process.cwd(), keys), null, 2)}\n`);
      else process.stdout.write(`${renderPlan(plan, painter(g.color))}\n`);
      if (opts.out) {
        writePlanFile(opts.out, plan, process.cwd(), keys);
        process.stderr.write(`Saved the plan to ${opts.out}. Apply exactly this plan with: hookctl apply --plan ${opts.out}\n`);
      }
      if (opts.detailedExitcode && plan.changes.length > 0) process.exitCode = ExitCode.changes;
    });
}
