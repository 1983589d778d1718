/**
 * The README's quickstart loop, command for command, as real processes of the built CLI on real
 * ports: apply, serve, mock serve, run --wait. The examples are copied to a temporary folder and
 * only the port in the connection's URL file is changed (8787 may be taken on a shared machine).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterAll, expect, it } from 'vitest';
import { CLI, runCli } from '../helpers/cli.js';

const EXAMPLES = path.resolve(import.meta.dirname, '../../examples');
const children: ChildProcess[] = [];

afterAll(() => {
  for (const child of children) child.kill('SIGTERM');
});

async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** Start a long-running command; resolves with its output once stdout says it listens. */
async function background(args: string[], cwd: string): Promise<{ stdout: () => string; stderr: () => string }> {
  const child = spawn(process.execPath, [CLI, ...args], { cwd, env: { PATH: process.env.PATH, HOME: process.env.HOME, NO_COLOR: '1' }, stdio: ['ignore', 'pipe', 'pipe'] });
  children.push(child);
  let stdout = '';
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  await new Promise<void>((resolve, reject) => {
    child.stdout.on('data', (d: Buffer) => {
      stdout += d.toString();
      if (stdout.includes('listening on')) resolve();
    });
    child.on('close', (code) => reject(new Error(`${args.join(' ')} exited ${code}: ${stderr}`)));
  });
  return { stdout: () => stdout, stderr: () => stderr };
}

it('apply + serve + mock serve + run --wait completes a request with a halt and a resume', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hookctl-quickstart-'));
  const examples = path.join(dir, 'examples');
  for (const folder of ['quickstart']) fs.cpSync(path.join(EXAMPLES, folder), path.join(examples, folder), { recursive: true });
  const [servePort, mockPort] = [await freePort(), await freePort()];
  const urlFile = path.join(examples, 'quickstart/secrets/identity-url.txt');
  const declared = fs.readFileSync(urlFile, 'utf8');
  expect(declared).toContain('http://127.0.0.1:8787/identity.example.com/hooks/privacy');
  fs.writeFileSync(urlFile, declared.replace(':8787/', `:${mockPort}/`));

  const applied = await runCli(['apply', '--auto-approve', 'examples/quickstart'], { cwd: dir });
  expect(applied.stderr).toBe('');
  expect(applied.code).toBe(0);
  await background(['serve', '--port', String(servePort)], dir);
  const mock = await background(['mock', 'serve', 'examples/quickstart', '--port', String(mockPort), '--callback-base', `http://127.0.0.1:${servePort}`], dir);
  expect(mock.stdout()).toContain(`POST http://127.0.0.1:${mockPort}/identity.example.com/hooks/privacy  ← https://identity.example.com/hooks/privacy`);

  const run = await runCli(['run', '--policy', 'default_access_policy', '--email', 'a@example.com', '--wait', '30s'], { cwd: dir, timeoutMs: 60_000 });
  expect(run.stderr).toBe('');
  expect(run.code).toBe(0);
  expect(run.stdout).toMatch(/^privacy request pri_\S+ \(policy default_access_policy\): complete\n/);
  const steps = run.stdout.split('\n').slice(1, 5).map((line) => line.trim().split(/\s+/).slice(1, 4).join(' '));
  expect(steps).toEqual(['pre resolve_identity (two_way)', 'pre resumed 0', 'execute executed 0', 'post notify_identity_service (one_way)']);
  expect(run.stdout).toContain('identity: {"email":"a@example.com","phone_number":"+15555550100"}');
  expect(mock.stderr()).toMatch(/resume after #1 \(pri_\S+, token: valid\) → 200\n/);
}, 90_000);
