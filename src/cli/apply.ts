import readline from 'node:readline/promises';
import type { Command } from 'commander';
import { ExitCode, HookctlError } from '../errors.js';
import { globalOptions } from './context.js';
import { DURATIONS, parseDuration } from './flags.js';
import { painter } from '../paint.js';
import { currentActor, loadDesiredOrExit, openState } from './session.js';
import { addFidesTargetOptions, fidesSettings, openFidesClient, type FidesConnectSettings, type FidesTargetFlags } from './fides-target.js';
import type { Painter } from '../paint.js';
import type { Plan } from '../reconcile/plan-types.js';

export function registerApply(program: Command): Command {
  const cmd = program
    .command('apply')
    .description('apply the manifests (or a saved plan) to the state in one transaction')
    .argument('[paths...]', 'manifest files or folders (default .)')
    .option('--plan <file>', 'apply exactly this saved plan (refused if the state or a secret changed since)')
    .option('--auto-approve', 'do not ask for confirmation')
    .option('--prune', 'delete unmanaged connections and policies that hookctl created')
    .option('--lock-timeout <duration>', 'how long to wait for another apply to finish', '30s');
  return addFidesTargetOptions(cmd).action(
    async (paths: string[], opts: { plan?: string; autoApprove?: boolean; prune?: boolean; lockTimeout: string } & Partial<FidesTargetFlags>, cmd: Command) => {
      const g = globalOptions(cmd);
      const lockTimeoutMs = parseDuration(opts.lockTimeout, DURATIONS.lockTimeout);
      const fides = await fidesSettings(opts);
      if (opts.plan && paths.length > 0) {
        throw new HookctlError('give either manifest paths or --plan, not both', ExitCode.usage, 'a saved plan already holds what it was made from');
      }
      const desired = opts.plan ? undefined : loadDesiredOrExit(paths, g, { prune: opts.prune === true });
      const { applyManifests, applySavedPlan } = await import('../reconcile/apply.js');
      const { renderPlan } = await import('../reconcile/render.js');
      const paint = painter(g.color);
      const common = {
        lockTimeoutMs,
        actor: currentActor(),
        env: process.env,
        secretsDirs: g.secretsDirs,
        onLockWait: () => process.stderr.write('Acquiring state lock…\n'),
      };

      const { db, keys } = await openState(g);
      if (fides) {
        try {
          await applyToFides(fides, db, keys, desired, opts, common, paint);
        } finally {
          await db.close();
        }
        return;
      }
      try {
        const { readPlanFile } = await import('../reconcile/saved-plan.js');
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
    },
  );
}

/**
 * Apply to a Fides server: the plan, then each step as done, failed (with the server's message),
 * kept or not attempted; a failure exits 1 after the partial revision is recorded.
 */
async function applyToFides(
  fides: FidesConnectSettings,
  db: import('../state/database.js').Database,
  keys: import('../state/keys.js').Keys,
  desired: import('../manifest/types.js').DesiredState | undefined,
  opts: { plan?: string; autoApprove?: boolean; prune?: boolean },
  common: { lockTimeoutMs: number; actor: string; env: NodeJS.ProcessEnv; secretsDirs: string[]; onLockWait: () => void },
  paint: Painter,
): Promise<void> {
  const { applyFides, applySavedFidesPlan } = await import('../reconcile/fides-target.js');
  const { renderPlan } = await import('../reconcile/render.js');
  const { readPlanFile } = await import('../reconcile/saved-plan.js');
  const client = await openFidesClient(fides);
  const show = (plan: Plan) => {
    process.stdout.write(`${renderPlan(plan, paint)}\n`);
    for (const note of plan.fides?.notes ?? []) process.stderr.write(`note: ${note}\n`);
  };
  let result;
  try {
    result = desired
      ? await applyFides(db, keys, client, desired, {
          ...common,
          prune: opts.prune === true,
          approve: async (plan) => {
            show(plan);
            return opts.autoApprove === true || (await confirm());
          },
        })
      : await applySavedFidesPlan(db, keys, client, readPlanFile(opts.plan!, process.cwd(), keys), common);
  } finally {
    await client.close();
  }
  // approve() showed the plan when there was something to approve.
  if (!desired || result.plan.changes.length === 0) show(result.plan);
  if (!result.applied) return;
  process.stdout.write(`\nApplying to ${fides.target}:\n`);
  const mark = { done: paint.green('done'), failed: paint.red('failed'), kept: paint.yellow('kept'), 'not attempted': 'not attempted' } as const;
  for (const step of result.steps) {
    process.stdout.write(`  ${mark[step.status]}${' '.repeat(14 - step.status.length)}${step.what}${step.message ? `: ${step.message}` : ''}\n`);
  }
  const failed = result.steps.find((s) => s.status === 'failed');
  if (failed) {
    throw new HookctlError(
      `apply to ${fides.target} stopped at ${failed.what}: ${failed.message ?? 'failed'}; recorded as partial revision ${result.serial}`,
      ExitCode.runtime,
      'hookctl plan --fides-url shows what remains; hookctl apply again converges',
    );
  }
  const s = result.plan.summary;
  const kept = result.steps.filter((x) => x.status === 'kept').length;
  process.stdout.write(
    `\n${paint.green(`Apply complete! ${s.add} added, ${s.change} changed, ${s.delete - kept} deleted, ${s.move} moved.`)}${kept > 0 ? ` ${kept} kept by the server (no longer managed).` : ''} Revision ${result.serial} on ${fides.target}.\n`,
  );
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
