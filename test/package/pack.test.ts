/**
 * The package as a user gets it: `npm pack` of the built tree, installed from the tarball into
 * an empty folder, runs through `npx hookctl` with no build step. Dependencies come from the npm
 * cache (--prefer-offline). --ignore-scripts skips only the dependencies' own install scripts
 * (sqlite3 fetches a prebuilt binary from GitHub or compiles one): hookctl has none, and
 * neither --version nor validate opens a database.
 */
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, expect, it } from 'vitest';

const run = promisify(execFile);
const REPO = path.resolve(import.meta.dirname, '../..');
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hookctl-pack-'));
const env = { ...process.env, NO_COLOR: '1', npm_config_update_notifier: 'false' };

afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

it('npm pack installs into an empty folder and runs without a build', async () => {
  // dist/ is fresh from the test run's build; packing again must not rebuild (prepare is skipped).
  const packed = await run('npm', ['pack', '--ignore-scripts', '--json', '--pack-destination', dir], { cwd: REPO, env });
  const [info] = JSON.parse(packed.stdout) as { filename: string; files: { path: string }[] }[];
  const files = info!.files.map((f) => f.path);
  expect(files).toEqual(expect.arrayContaining(['LICENSE', 'README.md', 'package.json', 'dist/src/cli/main.js', 'schemas/manifest.schema.json', 'dist/harness/mock-server.js']));
  expect(files.filter((f) => /^(dist\/)?(test|bench|src|harness)\//.test(f) && !/^dist\/(src|harness)\//.test(f))).toEqual([]);

  const app = path.join(dir, 'app');
  fs.mkdirSync(app);
  fs.writeFileSync(path.join(app, 'package.json'), '{"private": true}\n');
  await run('npm', ['install', '--prefer-offline', '--no-audit', '--no-fund', '--ignore-scripts', path.join(dir, info!.filename)], { cwd: app, env });

  const version = await run('npx', ['--no-install', 'hookctl', '--version'], { cwd: app, env });
  const pkg = JSON.parse(fs.readFileSync(path.join(REPO, 'package.json'), 'utf8')) as { version: string };
  expect(version.stdout.trim()).toBe(pkg.version);

  fs.cpSync(path.join(REPO, 'examples/quickstart'), path.join(app, 'quickstart'), { recursive: true });
  const validated = await run('npx', ['--no-install', 'hookctl', 'validate', 'quickstart'], { cwd: app, env });
  expect(validated.stdout).toContain('1 file, 1 connection, 1 policy, 2 webhooks: valid');
}, 300_000);
