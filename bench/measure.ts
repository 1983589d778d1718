import { spawnSync } from 'node:child_process';
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

/** Run a node script as its own process; wall time, CPU time and peak RSS. Throws on an unexpected exit. */
export function measureNode(script: string, args: string[], opts: { cwd: string; env: Record<string, string>; okCodes?: number[] }): Measurement {
  const rssFile = path.join(os.tmpdir(), `hookctl-bench-rss-${process.pid}-${Date.now()}`);
  const started = process.hrtime.bigint();
  const r = spawnSync(process.execPath, ['--import', PRELOAD, script, ...args], {
    cwd: opts.cwd,
    env: { ...process.env, ...opts.env, BENCH_RSS_FILE: rssFile, NO_COLOR: '1' },
    encoding: 'utf8',
    maxBuffer: 512 * 1024 * 1024,
  });
  const ms = Number(process.hrtime.bigint() - started) / 1e6;
  if (!(opts.okCodes ?? [0]).includes(r.status ?? -1)) {
    throw new Error(`${path.basename(script)} ${args.join(' ')} exited ${r.status}: ${r.stderr.slice(0, 2000)}`);
  }
  const usage = fs.existsSync(rssFile) ? (JSON.parse(fs.readFileSync(rssFile, 'utf8')) as { maxRssKb: number; cpuMs: number }) : { maxRssKb: NaN, cpuMs: NaN };
  fs.rmSync(rssFile, { force: true });
  return { ms, cpuMs: usage.cpuMs, rssMb: usage.maxRssKb / 1024, code: r.status, stdout: r.stdout };
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
