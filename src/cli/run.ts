import type { Command } from 'commander';
import { ExitCode, HookctlError } from '../errors.js';
import { globalOptions } from './context.js';
import { DURATIONS, durationOption, parseOptionalDuration } from './flags.js';
import { UNIT_MS } from '../durations.js';
import { painter, type Painter } from '../paint.js';
import { openState } from './session.js';
import type { RequestView } from '../engine/request-views.js';

export function registerRun(program: Command): Command {
  return program
    .command('run')
    .description('execute one privacy request in-process against the stored state and print its timeline')
    .requiredOption('--policy <key>', 'policy key')
    .option('--email <email>', 'identity: email')
    .option('--phone-number <phone>', 'identity: phone number')
    .addOption(durationOption(DURATIONS.webhookTimeout, 'timeout of one webhook call: 500ms, 30s; a bare number is ms (default 30s)'))
    .addOption(durationOption(DURATIONS.resumeTimeout, 'lifetime of reply-to tokens: 30m, 60h; a bare number is minutes (default 3600)'))
    .option('--wait <duration>', 'when a two_way webhook halts the request, wait this long (30s, 5m; a bare number is seconds) for the endpoint to resume it through a running `hookctl serve` on this state, then run it on')
    .option('--json', 'print the request (with its timeline) as JSON')
    .action(async (opts: { policy: string; email?: string; phoneNumber?: string; webhookTimeout?: string; resumeTimeout?: string; wait?: string; json?: boolean }, cmd: Command) => {
      const g = globalOptions(cmd);
      const webhookTimeoutMs = parseOptionalDuration(opts.webhookTimeout, DURATIONS.webhookTimeout);
      const resumeTimeoutMs = parseOptionalDuration(opts.resumeTimeout, DURATIONS.resumeTimeout);
      const pausedWaitMs = parseOptionalDuration(opts.wait, DURATIONS.wait);
      const resumeTimeoutMinutes = resumeTimeoutMs === undefined ? undefined : resumeTimeoutMs / UNIT_MS.m;
      const { createPrivacyRequests } = await import('../engine/service.js');
      const { runToSettled } = await import('../engine/worker.js');
      const { db, keys } = await openState(g);
      let view: RequestView;
      try {
        const identity = { ...(opts.email && { email: opts.email }), ...(opts.phoneNumber && { phone_number: opts.phoneNumber }) };
        const created = await createPrivacyRequests(db, [{ policy_key: opts.policy, identity }]);
        const failed = created.failed[0];
        if (failed) throw new HookctlError(`cannot create the privacy request: ${failed.message}`, ExitCode.runtime, 'hookctl export lists the policies in the state');
        view = await runToSettled(db, keys, created.succeeded[0]!.id, {
          ...(webhookTimeoutMs !== undefined && { webhookTimeoutMs }),
          ...(resumeTimeoutMinutes !== undefined && { resumeTimeoutMinutes }),
          ...(pausedWaitMs !== undefined && { pausedWaitMs }),
        });
      } finally {
        await db.close();
      }
      process.stdout.write(opts.json ? `${JSON.stringify(view, null, 2)}\n` : `${renderRequest(view, painter(g.color))}\n`);
      if (view.status === 'error') process.exitCode = ExitCode.runtime;
    });
}

export function renderRequest(view: RequestView, paint: Painter): string {
  const status = view.status === 'complete' ? paint.green(view.status) : view.status === 'error' ? paint.red(view.status) : paint.yellow(view.status);
  const lines = [`privacy request ${view.id} (policy ${view.policy_key}): ${status}`];
  for (const t of view.timeline) {
    const what = t.webhook_key ? `${t.callback_type} ${t.webhook_key} (${t.direction})` : `${t.callback_type ?? ''}`;
    const http = t.status_code !== null ? ` HTTP ${t.status_code}` : '';
    lines.push(`  ${t.started_at}  ${what.padEnd(40)} ${t.outcome}${http}  ${t.duration_ms} ms${t.reason ? `  ${paint.dim(t.reason)}` : ''}`);
  }
  lines.push(`identity: ${JSON.stringify(view.identity)}`);
  if (view.failure_reason) lines.push(paint.red(`failure: ${view.failure_reason}`));
  if (view.status === 'paused') {
    lines.push(`paused: a two_way webhook halted the request; it resumes when the endpoint POSTs ${view.resume_endpoint} to a running 'hookctl serve' on this state (\`hookctl run --wait 30s\` waits for that, then runs it on)`);
  }
  return lines.join('\n');
}
