/**
 * Manifests and scenarios side by side in one folder, through the built CLI: each command reads
 * the files of its kind, skips the others (a note under --verbose), and refuses a YAML file of
 * neither kind.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../helpers/cli.js';

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const TOKENS = { IDENTITY_HOOK_TOKEN: 't1', WAREHOUSE_HOOK_TOKEN: 't2', AUDIT_HOOK_TOKEN: 't3', CACHE_HOOK_TOKEN: 't4' };

let dir: string;
beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hookctl-mixed-'));
  for (const f of ['connections.yaml', 'policies.yaml']) fs.copyFileSync(path.join(REPO, 'examples/gitops-ci/manifests', f), path.join(dir, f));
  // The scenario runs against the manifests of its own folder.
  const scenario = fs.readFileSync(path.join(REPO, 'examples/scenarios/two-way-continue.yaml'), 'utf8');
  fs.mkdirSync(path.join(dir, 'scenarios'));
  fs.writeFileSync(path.join(dir, 'scenarios', 'continue.yaml'), scenario.replaceAll('manifests: ../gitops-ci/manifests', 'manifests: ..'));
});
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

describe('a folder with manifests and scenarios', () => {
  it('validate and plan read the manifests and skip the scenarios', async () => {
    const validate = await runCli(['validate'], { cwd: dir });
    expect([validate.code, validate.stdout, validate.stderr]).toEqual([0, '✓ 2 files, 4 connections, 2 policies, 6 webhooks: valid\n', '']);

    const plan = await runCli(['plan', '.'], { cwd: dir, env: TOKENS });
    expect([plan.code, plan.stderr]).toEqual([0, '']);
    expect(plan.stdout).toContain('Plan: 12 to add, 0 to change, 0 to delete, 0 to move.');
  });

  it('simulate runs the scenarios of the same folder and skips the manifests', async () => {
    const r = await runCli(['simulate', '.'], { cwd: dir });
    expect([r.code, r.stderr]).toEqual([0, '']);
    expect(r.stdout).toContain('2 passed');
  });

  it('--verbose says which files each command skipped', async () => {
    const validate = await runCli(['validate', '--verbose'], { cwd: dir });
    expect([validate.code, validate.stderr]).toEqual([0, 'note: skipped scenarios/continue.yaml: a scenario file\n']);
    const simulate = await runCli(['--verbose', 'simulate', '.'], { cwd: dir });
    expect(simulate.code).toBe(0);
    expect(simulate.stderr).toBe('note: skipped connections.yaml: a manifest file\nnote: skipped policies.yaml: a manifest file\n');
    const quiet = await runCli(['validate'], { cwd: dir });
    expect(quiet.stderr).toBe('');
  });

  it('a YAML file of neither kind is invalid input for every command', async () => {
    const other = fs.mkdtempSync(path.join(os.tmpdir(), 'hookctl-mixed-other-'));
    try {
      fs.cpSync(dir, other, { recursive: true, filter: (src) => path.basename(src) !== '.hookctl' });
      fs.writeFileSync(path.join(other, 'settings.yaml'), '# team settings\nconection:\n  - key: x\n');
      for (const args of [['validate'], ['plan'], ['simulate', '.']]) {
        const r = await runCli(args, { cwd: other, env: TOKENS });
        expect(r.code, args.join(' ')).toBe(3);
        // validate reports on stdout, the others on stderr.
        const report = r.stdout + r.stderr;
        expect(report).toContain("settings.yaml:2:1: error[unknown-file-kind]: the file is neither a manifest nor a scenario: its top-level keys are 'conection'");
        expect(report).toContain("a scenario has 'requests' or 'endpoints'; did you mean 'connection'?");
      }
      // Refused before any state was opened.
      expect(fs.existsSync(path.join(other, '.hookctl'))).toBe(false);
    } finally {
      fs.rmSync(other, { recursive: true, force: true });
    }
  });
});
