import { Option, type Command } from 'commander';
import { globalOptions } from './context.js';
import { painter } from '../paint.js';

/**
 * Renders a saved plan offline, as `terraform show PLANFILE` does: no state, no master key, no
 * database. The signature needs the master key, so it is not checked here (the output says
 * so); `apply --plan` checks it before anything is written.
 */
export function registerShow(program: Command): Command {
  return program
    .command('show')
    .description('render a saved plan (from plan --out) offline: no state, database or master key needed')
    .argument('<planfile>', 'a plan saved with hookctl plan --out')
    .addOption(new Option('--format <format>', 'text, json (the plan document as saved) or markdown (a pull-request comment)').choices(['text', 'json', 'markdown']).default('text'))
    .action(async (file: string, opts: { format: 'text' | 'json' | 'markdown' }, cmd: Command) => {
      const g = globalOptions(cmd);
      const { parsePlanFile } = await import('../reconcile/saved-plan.js');
      const { renderPlan, renderPlanMarkdown, NOT_VERIFIED_NOTE } = await import('../reconcile/render.js');
      const doc = parsePlanFile(file);
      if (opts.format === 'json') {
        process.stdout.write(`${JSON.stringify(doc, null, 2)}\n`);
        process.stderr.write(`Saved plan ${file}: ${NOT_VERIFIED_NOTE}.\n`);
      } else if (opts.format === 'markdown') process.stdout.write(renderPlanMarkdown(doc, { file }));
      else process.stdout.write(`${renderPlan(doc, painter(g.color), { file })}\n`);
    });
}
