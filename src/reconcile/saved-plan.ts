/** Saved plans (`plan --out`, `apply --plan`): JSON, versioned, file refs relative to cwd. */
import fs from 'node:fs';
import path from 'node:path';
import { ExitCode, HookctlError } from '../errors.js';
import type { SecretInput } from '../manifest/types.js';
import { PLAN_FORMAT_VERSION, type Plan } from './plan-types.js';

/** The plan as a portable document: file-ref folders relative to `cwd`. */
export function planDocument(plan: Plan, cwd: string): Plan {
  return mapBaseDirs(plan, (dir) => path.relative(cwd, dir) || '.');
}

export function writePlanFile(file: string, plan: Plan, cwd: string): void {
  fs.writeFileSync(file, `${JSON.stringify(planDocument(plan, cwd), null, 2)}\n`, { mode: 0o600 });
}

export function readPlanFile(file: string, cwd: string): Plan {
  let doc: Plan;
  try {
    doc = JSON.parse(fs.readFileSync(file, 'utf8')) as Plan;
  } catch (err) {
    const reason = (err as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : 'not a JSON plan';
    throw new HookctlError(`cannot read saved plan ${file}: ${reason}`, ExitCode.invalid, 'make one with: hookctl plan --out FILE');
  }
  if (doc?.format_version !== PLAN_FORMAT_VERSION || !doc.writes || !doc.secret_refs) {
    throw new HookctlError(
      `${file} is not a hookctl plan of format_version ${PLAN_FORMAT_VERSION}`,
      ExitCode.invalid,
      'make a new one with this version: hookctl plan --out FILE',
    );
  }
  return mapBaseDirs(doc, (dir) => path.resolve(cwd, dir));
}

function mapBaseDirs(plan: Plan, fn: (dir: string) => string): Plan {
  const mapInput = (input: SecretInput): SecretInput => ('ref' in input ? { ...input, baseDir: fn(input.baseDir) } : input);
  const refs: Plan['secret_refs'] = {};
  for (const [connection, inputs] of Object.entries(plan.secret_refs)) {
    refs[connection] = { url: mapInput(inputs.url), authorization: mapInput(inputs.authorization) };
  }
  return { ...plan, secret_refs: refs };
}
