import { Option, type Command } from 'commander';
import { ExitCode, HookctlError } from '../errors.js';
import { globalOptions } from './context.js';
import { painter } from '../paint.js';
import { loadDesiredOrExit, openState } from './session.js';
import { addFidesTargetOptions, fidesSettings, openFidesClient, type FidesTargetFlags } from './fides-target.js';

type Format = 'text' | 'json' | 'markdown';

export function registerPlan(program: Command): Command {
  const cmd = program
    .command('plan')
    .description('diff the manifests against the stored state and print the changes')
    .argument('[paths...]', 'manifest files or folders (default .)')
    .option('--out <file>', 'save the plan (JSON) for hookctl apply --plan')
    .addOption(new Option('--format <format>', 'text, json (the plan document) or markdown (a pull-request comment)').choices(['text', 'json', 'markdown']))
    .option('--json', 'same as --format json')
    .option('--detailed-exitcode', 'exit 2 when there are changes, 0 when there are none')
    .option('--prune', 'delete unmanaged connections and policies that hookctl created');
  return addFidesTargetOptions(cmd).action(
    async (paths: string[], opts: { out?: string; format?: Format; json?: boolean; detailedExitcode?: boolean; prune?: boolean } & Partial<FidesTargetFlags>, cmd: Command) => {
      const g = globalOptions(cmd);
      const fides = await fidesSettings(opts);
      if (opts.json && opts.format && opts.format !== 'json') {
        throw new HookctlError(`--json and --format ${opts.format} disagree`, ExitCode.usage, '--json is short for --format json: give one of them');
      }
      const format: Format = opts.json ? 'json' : (opts.format ?? 'text');
      const desired = loadDesiredOrExit(paths, g, { prune: opts.prune === true });
      const { makePlan } = await import('../reconcile/plan.js');
      const { renderPlan, renderPlanMarkdown } = await import('../reconcile/render.js');
      const { planDocument, writePlanFile } = await import('../reconcile/saved-plan.js');
      const { db, keys } = await openState(g, { readOnly: true });
      let plan;
      try {
        const planOpts = { prune: opts.prune === true, env: process.env, secretsDirs: g.secretsDirs };
        if (fides) {
          const { planFides } = await import('../reconcile/fides-target.js');
          const client = await openFidesClient(fides);
          try {
            plan = (await planFides(db.knex, keys, client, desired, planOpts)).plan;
          } finally {
            await client.close();
          }
          for (const note of plan.fides?.notes ?? []) process.stderr.write(`note: ${note}\n`);
        } else plan = await makePlan(db, keys, desired, planOpts);
      } finally {
        await db.close();
      }
      if (format === 'json') process.stdout.write(`${JSON.stringify(planDocument(plan, process.cwd(), keys), null, 2)}\n`);
      else if (format === 'markdown') process.stdout.write(renderPlanMarkdown(plan));
      else process.stdout.write(`${renderPlan(plan, painter(g.color))}\n`);
      if (opts.out) {
        writePlanFile(opts.out, plan, process.cwd(), keys);
        process.stderr.write(`Saved the plan to ${opts.out}. Apply exactly this plan with: hookctl apply --plan ${opts.out}${fides ? ` --fides-url ${fides.target}` : ''}\n`);
      }
      if (opts.detailedExitcode && plan.changes.length > 0) process.exitCode = ExitCode.changes;
    },
  );
}
