/** The reconcile loop at N policies × 20 webhooks, on the embedded SQLite, and the CLI's start-up. */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { generateManifests, GENERATED_ENV } from './generate.js';
import { check, measureCli, measureNode, table } from './measure.js';

const BASELINE = path.resolve(path.dirname(fileURLToPath(import.meta.url)), 'baseline-insert.js');

const QUICKSTART = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../examples/quickstart');

/** `hookctl validate examples/quickstart` must start and finish in ≤ 150 ms; node itself is the floor. */
export function benchStartup(runs = 10): string {
  const cwd = os.tmpdir();
  const median = (xs: number[]) => xs.sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
  const validateRuns = Array.from({ length: runs }, () => measureCli(['validate', QUICKSTART], { cwd, env: {} }));
  const bareRuns = Array.from({ length: runs }, () => measureNode('-e', ['0'], { cwd, env: {} }));
  const [validate, bare] = [validateRuns, bareRuns].map((ms) => ms.map((x) => x.ms));
  const m = median(validate!);
  return [
    `Start-up (${runs} runs each, wall ms; CPU: median CPU time of the process)`,
    table(['command', 'min', 'median', 'max', 'CPU ms'], [
      ['node -e 0 (floor)', Math.min(...bare!), median(bare!), Math.max(...bare!), median(bareRuns.map((x) => x.cpuMs))],
      ['hookctl validate examples/quickstart', Math.min(...validate!), m, Math.max(...validate!), median(validateRuns.map((x) => x.cpuMs))],
    ]),
    check('validate quickstart median ≤ 150 ms', m <= 150, `${m.toFixed(0)} ms`),
  ].join('\n');
}

export function benchReconcile(sizes: number[]): string {
  const rows: (string | number)[][] = [];
  const noopPlan = new Map<number, number>();
  const cpuRows: (string | number)[][] = [];
  const verdicts: string[] = [];
  for (const n of sizes) {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), `hookctl-bench-${n}-`));
    const manifests = path.join(dir, 'manifests');
    generateManifests(manifests, { policies: n });
    const env = { ...GENERATED_ENV, HOOKCTL_DATABASE_URL: `sqlite:${path.join(dir, 'state.db')}` };
    const run = (args: string[], okCodes?: number[]) => measureCli(args, { cwd: dir, env, okCodes });

    const validate = run(['validate', 'manifests']);
    const planEmpty = run(['plan', 'manifests', '--detailed-exitcode'], [2]);
    const firstApply = run(['apply', '--auto-approve', 'manifests']);
    const plan0 = run(['plan', 'manifests', '--detailed-exitcode']);
    const apply0 = run(['apply', '--auto-approve', 'manifests']);
    generateManifests(manifests, { policies: n, changedShare: 0.01 });
    const change = run(['plan', 'manifests', '--detailed-exitcode'], [2]);
    const changeApply = run(['apply', '--auto-approve', 'manifests']);
    const baseFile = path.join(dir, 'baseline.db');
    const baseline = measureNode(BASELINE, [baseFile, String(n)], { cwd: dir, env: {} });
    const peak = Math.max(...[validate, planEmpty, firstApply, plan0, apply0, change, changeApply].map((m) => m.rssMb));
    noopPlan.set(n, plan0.ms);
    rows.push([n, n * 20, validate.ms, planEmpty.ms, firstApply.ms, plan0.ms, apply0.ms, change.ms + changeApply.ms, baseline.ms, Number(baseline.stdout), firstApply.ms / baseline.ms, peak]);
    cpuRows.push([n, firstApply.cpuMs, plan0.cpuMs, baseline.cpuMs, firstApply.cpuMs / baseline.cpuMs]);
    if (n === 2000) {
      verdicts.push(check('no-op plan ≤ 1000 ms', plan0.ms <= 1000, `${plan0.ms.toFixed(0)} ms`));
      verdicts.push(check('first apply ≤ 2× baseline process', firstApply.ms <= 2 * baseline.ms, `${(firstApply.ms / baseline.ms).toFixed(2)}×`));
      verdicts.push(check('peak RSS ≤ 400 MB', peak <= 400, `${peak.toFixed(0)} MB`));
    }
    fs.rmSync(dir, { recursive: true, force: true });
  }
  if (noopPlan.has(1000) && noopPlan.has(2000)) {
    const ratio = noopPlan.get(2000)! / noopPlan.get(1000)!;
    verdicts.push(check('no-op plan N=2000 ≤ 2.5× N=1000', ratio <= 2.5, `${ratio.toFixed(2)}×`));
  }
  return [
    'Reconcile loop (SQLite; each cell one CLI process, wall ms; baseline = raw multi-row INSERTs of the same rows with integer ids, one transaction, own process)',
    table(
      ['N policies', 'webhooks', 'validate', 'plan (empty)', 'first apply', 'no-op plan', 'no-op apply', '1% change plan+apply', 'baseline proc', 'baseline insert', 'apply/baseline', 'peak RSS MB'],
      rows,
    ),
    'CPU time of the same processes (ms, user + system): steadier than wall time on a loaded machine',
    table(['N policies', 'first apply CPU', 'no-op plan CPU', 'baseline proc CPU', 'apply/baseline CPU'], cpuRows),
    ...verdicts,
  ].join('\n');
}

