import readline from 'node:readline/promises';
import type { Command } from 'commander';
import { ExitCode, HookctlError } from '../errors.js';
import { globalOptions } from './context.js';
import { DURATIONS, parseDuration } from './flags.js';
import { painter } from '../paint.js';
import { currentActor, loadDesiredOrExit, openState } from './session.js';

export function registerApply(program: Command): Command {
  return program
    .command('apply')
    .description('apply the manifests (or a saved plan) to the state in one transaction')
    .argument('[paths...]', 'manifest files or folders (default .)')
    .option('--plan <file>', 'apply exactly this saved plan (refused if the state or a secret changed since)')
    .option('--auto-approve', 'do not ask for confirmation')
    .option('--prune', 'delete unmanaged connections and policies that hookctl created')
    .option('--lock-timeout <duration>', 'how long to wait for another apply to finish', '30s')
    .action(async (paths: string[], opts: { plan?: string; autoApprove?: boolean; prune?: boolean; lockTimeout: string }, cmd: Command) => {
      const g = globalOptions(cmd);
      const lockTimeoutMs = parseDuration(opts.lockTimeout, DURATIONS.lockTimeout);
      if (opts.plan && paths.length > 0) {
        throw new HookctlError('give either manifest paths or --plan, not both', ExitCode.usage, 'a saved plan already holds what it was made from');
      }
      const desired = opts.plan ? undefined : loadDesiredOrExit(paths, g, { prune: opts.prune === true });
      const { applyManifests, applySavedPlan } = await import('../reconcile/apply.js');
      const { renderPlan } = await import('../reconcile/render.js');
      const { readPlanFile } = await import('../reconcile/saved-plan.js');
      const paint = painter(g.color);
      const common = {
        lockTimeoutMs,
        actor: currentActor(),
        env: process.env,
        secretsDirs: g.secretsDirs,
        onLockWait: () => process.stderr.write('Acquiring state lock…\n'),
      };

      const { db, keys } = await openState(g);
      try {
        const result = desired
          ? await applyManifests(db, keys, desired, {
              ...common,
              prune: opts.prune === true,
              approve: async (plan) => {
                process.stdout.write(`${renderPlan(plan, paint)}\n`);
                return opts.autoApprove === true || (await confirm());
              },
              // Unattended, another apply landing first is no reason to stop: plan again under the lock.
              ...(opts.autoApprove && {
                onReplan: (plan) => process.stdout.write(`\nThe state changed while waiting for the lock; planned again:\n${renderPlan(plan, paint)}\n`),
              }),
            })
          : // A saved plan was reviewed when it was made (as with terraform apply PLANFILE).
            await applySavedPlan(db, keys, readPlanFile(opts.plan!, process.cwd(), keys), common);
        const { plan } = result;
        // approve() printed the plan when there was something to approve.
        if (!desired || plan.changes.length === 0) process.stdout.write(`${renderPlan(plan, paint)}\n`);
        if (!result.applied) return;
        const s = plan.summary;
        process.stdout.write(
          `\n${paint.green(`Apply complete! ${s.add} added, ${s.change} changed, ${s.delete} deleted, ${s.move} moved.`)} State serial ${result.serial}.\n`,
        );
      } finally {
        await db.close();
      }
    });
}

/**
 * Asks on the terminal. Declining exits 1 with "Apply cancelled."; Ctrl-C at the prompt exits
 * 130 (readline catches it while the terminal is in raw mode, so the process gets no SIGINT).
 */
async function confirm(): Promise<boolean> {
  if (!process.stdin.isTTY) {
    throw new HookctlError(
      'apply needs confirmation, and stdin is not a terminal; nothing was applied',
      ExitCode.usage,
      'run with --auto-approve, or apply a reviewed saved plan with --plan FILE',
    );
  }
  const rl = readline.createInterface({ input: process.stdin, output: process.stdout });
  const interrupted = new Promise<never>((_, reject) => rl.once('SIGINT', () => {
      process.stdout.write('\n');
      reject(interruptedError());
    }));
  try {
    const answer = await Promise.race([rl.question("\nDo you want to perform these actions? Only 'yes' will be accepted: "), interrupted]);
    if (answer.trim() === 'yes') return true;
    process.stdout.write('\nApply cancelled.\n');
    process.exitCode = ExitCode.runtime;
    return false;
  } finally {
    rl.close();
  }
}

function interruptedError(): HookctlError {
  return new HookctlError('interrupted; nothing was applied', ExitCode.interrupted);
}
