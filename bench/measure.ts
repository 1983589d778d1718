import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
export const CLI = path.resolve(here, '../src/cli/main.js');
const PRELOAD = path.resolve(here, 'rss-preload.js');

export interface Measurement {
  ms: number;
  /**
   * CPU time of the process (user + system, all threads): on a machine loaded by other work it
   * moves far less than the wall time, so compare it too.
   */
  cpuMs: number;
  rssMb: number;
  code: number | null;
  stdout: string;
}

interface Run {
  rssFile: string;
  started: bigint;
  argv: string[];
  env: NodeJS.ProcessEnv;
}

function startRun(script: string, args: string[], env: Record<string, string>): Run {
  const rssFile = path.join(os.tmpdir(), `hookctl-bench-rss-${process.pid}-${Date.now()}-${Math.random().toString(36).slice(2)}`);
  return {
    rssFile,
    started: process.hrtime.bigint(),
    argv: ['--import', PRELOAD, script, ...args],
    env: { ...process.env, ...env, BENCH_RSS_FILE: rssFile, NO_COLOR: '1' },
  };
}

function finishRun(run: Run, script: string, args: string[], r: { code: number | null; stdout: string; stderr: string }, okCodes = [0]): Measurement {
  const ms = Number(process.hrtime.bigint() - run.started) / 1e6;
  if (!okCodes.includes(r.code ?? -1)) throw new Error(`${path.basename(script)} ${args.join(' ')} exited ${r.code}: ${r.stderr.slice(0, 2000)}`);
  const usage = fs.existsSync(run.rssFile) ? (JSON.parse(fs.readFileSync(run.rssFile, 'utf8')) as { maxRssKb: number; cpuMs: number }) : { maxRssKb: NaN, cpuMs: NaN };
  fs.rmSync(run.rssFile, { force: true });
  return { ms, cpuMs: usage.cpuMs, rssMb: usage.maxRssKb / 1024, code: r.code, stdout: r.stdout };
}

/** Run a node script as its own process; wall time, CPU time and peak RSS. Throws on an unexpected exit. */
export function measureNode(script: string, args: string[], opts: { cwd: string; env: Record<string, string>; okCodes?: number[] }): Measurement {
  const run = startRun(script, args, opts.env);
  const r = spawnSync(process.execPath, run.argv, { cwd: opts.cwd, env: run.env, encoding: 'utf8', maxBuffer: 512 * 1024 * 1024 });
  return finishRun(run, script, args, { code: r.status, stdout: r.stdout, stderr: r.stderr }, opts.okCodes);
}

/** measureNode without blocking this process (for a measured process that talks to a server running here). */
export async function measureNodeAsync(script: string, args: string[], opts: { cwd: string; env: Record<string, string>; okCodes?: number[] }): Promise<Measurement> {
  const run = startRun(script, args, opts.env);
  const child = spawn(process.execPath, run.argv, { cwd: opts.cwd, env: run.env, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
  return finishRun(run, script, args, { code, stdout, stderr }, opts.okCodes);
}

export function measureCli(args: string[], opts: { cwd: string; env: Record<string, string>; okCodes?: number[] }): Measurement {
  return measureNode(CLI, args, opts);
}

export function table(headers: string[], rows: (string | number)[][]): string {
  const cells = [headers, ...rows.map((r) => r.map((c) => (typeof c === 'number' ? formatNumber(c) : c)))];
  const widths = headers.map((_, i) => Math.max(...cells.map((r) => String(r[i]).length)));
  const line = (r: (string | number)[]) => `| ${r.map((c, i) => String(c).padEnd(widths[i]!)).join(' | ')} |`;
  return [line(cells[0]!), `|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`, ...cells.slice(1).map(line)].join('\n');
}

function formatNumber(n: number): string {
  if (!Number.isFinite(n)) return '–';
  return n >= 100 ? n.toFixed(0) : n.toFixed(1);
}

/** A target's line under a table: PASS or MISS, what is measured, the measured value. */
export function check(name: string, ok: boolean, value: string): string {
  return `${ok ? 'PASS' : 'MISS'}  ${name}: ${value}`;
}
