/**
 * Saved plans (`plan --out`, `apply --plan`): JSON, versioned, file refs relative to cwd, and
 * signed (HMAC under a key derived from the master key): apply executes a plan's writes as they
 * stand, so an edited file, or one made with another master key, is refused.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { ExitCode, HookctlError } from '../errors.js';
import type { SecretInput } from '../manifest/types.js';
import type { Keys } from '../state/keys.js';
import { NO_STATE_ID } from '../state/database.js';
import { PLAN_FORMAT_VERSION, type Plan } from './plan-types.js';

export type SignedPlan = Plan & { signature: string };

/** The plan as a portable, signed document: file-ref folders (and roots) relative to `cwd`. */
export function planDocument(plan: Plan, cwd: string, keys: Keys): SignedPlan {
  const doc = mapBaseDirs(plan, (dir) => path.relative(cwd, dir) || '.');
  return { ...doc, signature: sign(keys, doc) };
}

export function writePlanFile(file: string, plan: Plan, cwd: string, keys: Keys): void {
  try {
    fs.writeFileSync(file, `${JSON.stringify(planDocument(plan, cwd, keys), null, 2)}\n`, { mode: 0o600 });
  } catch (err) {
    throw new HookctlError(`cannot write the plan to ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`, ExitCode.runtime, 'check that the folder exists and is writable');
  }
}

/** A saved plan, checked (signature, master key) and with its folders resolved: what apply executes. */
export function readPlanFile(file: string, cwd: string, keys: Keys): Plan {
  const { signature, ...plan } = parsePlanFile(file);
  // Refusing needs no trust in the file: such a plan was signed with a throwaway key.
  if (plan.state_id === NO_STATE_ID) {
    throw new HookctlError(
      `saved plan is stale: ${file} was made before this state database existed`,
      ExitCode.stalePlan,
      'run hookctl plan --out FILE again, now that the state exists',
    );
  }
  const expected = sign(keys, plan);
  if (signature.length !== expected.length || !crypto.timingSafeEqual(Buffer.from(signature), Buffer.from(expected))) {
    throw new HookctlError(
      `saved plan ${file} was changed after it was made, or made with another master key`,
      ExitCode.invalid,
      'make a new plan: hookctl plan --out FILE',
    );
  }
  return mapBaseDirs(plan, (dir) => path.resolve(cwd, dir));
}

/**
 * A saved plan as written, signature not checked (that needs the master key): enough to show
 * it. Its shape is checked so far as rendering needs, so a damaged file is an error, not a crash.
 */
export function parsePlanFile(file: string): SignedPlan {
  let doc: SignedPlan;
  try {
    doc = JSON.parse(fs.readFileSync(file, 'utf8')) as SignedPlan;
  } catch (err) {
    const reason = (err as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : 'not a JSON plan';
    throw new HookctlError(`cannot read saved plan ${file}: ${reason}`, ExitCode.invalid, 'make one with: hookctl plan --out FILE');
  }
  if (doc?.format_version !== PLAN_FORMAT_VERSION || typeof doc.signature !== 'string') {
    throw new HookctlError(`${file} is not a hookctl plan of format_version ${PLAN_FORMAT_VERSION}`, ExitCode.invalid, 'make a new one with this version: hookctl plan --out FILE');
  }
  const wellFormed =
    Array.isArray(doc.changes) &&
    doc.changes.every((c) => typeof c === 'object' && c !== null && Array.isArray(c.fields)) &&
    Array.isArray(doc.unmanaged) &&
    Array.isArray(doc.writes?.lists) &&
    ['add', 'change', 'delete', 'move'].every((k) => typeof doc.summary?.[k as keyof Plan['summary']] === 'number');
  if (!wellFormed) throw new HookctlError(`saved plan ${file} is damaged: its changes cannot be read`, ExitCode.invalid, 'make a new plan: hookctl plan --out FILE');
  return doc;
}

function sign(keys: Keys, plan: Plan): string {
  return crypto.createHmac('sha256', keys.fingerprint).update('hookctl-plan/v1\n').update(JSON.stringify(plan)).digest('base64url');
}

function mapBaseDirs(plan: Plan, fn: (dir: string) => string): Plan {
  const mapInput = (input: SecretInput): SecretInput => ('ref' in input ? { ...input, baseDir: fn(input.baseDir), root: fn(input.root) } : input);
  const refs: Plan['secret_refs'] = {};
  for (const [connection, inputs] of Object.entries(plan.secret_refs)) {
    refs[connection] = { url: mapInput(inputs.url), authorization: mapInput(inputs.authorization) };
  }
  return { ...plan, secret_refs: refs };
}
