/**
 * What every `--help` ends with: examples of the command, then the exit codes, which are the
 * same for all commands and so written once here.
 */
import type { Command } from 'commander';

const EXIT_CODES = `Exit codes:
  0   success (with --detailed-exitcode: no changes)
  1   runtime error (database unreachable, unresolvable secret ref, remote error, declined prompt)
  2   with --detailed-exitcode: success, changes present; fmt --check: files would change
  3   invalid input: manifests or scenarios fail to parse or validate
  4   simulate: a scenario expectation failed
  5   the state lock is held by another apply past --lock-timeout
  6   saved plan is stale: the state or a secret changed since it was made
  64  usage error (unknown command or flag, missing argument, apply without approval)
  130 interrupted (Ctrl-C)`;

/** By command path (`token create`); `hookctl` is the program itself. */
const EXAMPLES: Record<string, string[]> = {
  hookctl: ['hookctl validate examples/quickstart', 'hookctl plan manifests/', 'hookctl apply manifests/'],
  validate: ['hookctl validate', 'hookctl validate manifests/ --format github'],
  fmt: ['hookctl fmt', 'hookctl fmt --check manifests/'],
  show: ['hookctl show plan.json', 'hookctl show plan.json --format markdown > plan.md'],
  plan: ['hookctl plan manifests/', 'hookctl plan manifests/ --format markdown', 'hookctl plan manifests/ --out plan.json', 'hookctl plan --prune --detailed-exitcode manifests/'],
  apply: ['hookctl apply manifests/', 'hookctl apply --plan plan.json', 'hookctl apply --auto-approve --lock-timeout 2m manifests/'],
  export: ['hookctl export', 'hookctl export --out exported/'],
  history: ['hookctl history', 'hookctl history --json'],
  serve: ['hookctl serve', 'hookctl serve --host 0.0.0.0 --port 8080 --public-url https://hooks.example.com'],
  token: ['hookctl token create --scopes policy:read,privacy-request:create --ttl 1d'],
  'token create': ['hookctl token create --scopes policy:read --ttl 1h', 'export TOKEN=$(hookctl token create --scopes privacy-request:create)'],
  run: ['hookctl run --policy default_access_policy --email user@example.com', 'hookctl run --policy default_access_policy --email user@example.com --wait 30s', 'hookctl run --policy default_access_policy --phone-number +15551234567 --json'],
  simulate: ['hookctl simulate', 'hookctl simulate scenarios/ --manifests manifests/ --reporter junit --output report.xml'],
  mock: ['hookctl mock serve examples/scenarios/halt-then-resume.yaml --port 9090'],
  'mock serve': ['hookctl mock serve examples/scenarios/halt-then-resume.yaml --port 9090 --callback-base http://127.0.0.1:8080', 'hookctl mock serve examples/quickstart --port 8787 --callback-base http://127.0.0.1:8080'],
};

function commandPath(cmd: Command): string {
  const names: string[] = [];
  for (let c: Command | null = cmd; c?.parent; c = c.parent) names.unshift(c.name());
  return names.length > 0 ? names.join(' ') : 'hookctl';
}

/** Adds the examples and the exit codes to `cmd`'s help and to every subcommand's. */
export function addExamplesAndExitCodes(cmd: Command): void {
  const examples = EXAMPLES[commandPath(cmd)] ?? [];
  const section = examples.length > 0 ? `\nExamples:\n${examples.map((e) => `  $ ${e}`).join('\n')}\n` : '';
  cmd.addHelpText('after', `${section}\n${EXIT_CODES}`);
  for (const sub of cmd.commands) addExamplesAndExitCodes(sub);
}
