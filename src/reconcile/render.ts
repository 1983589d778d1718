/** The human plan: `+` create, `~` update, `-` delete, `↕` move; secrets as (sensitive). */
import type { Painter } from '../paint.js';
import type { FieldChange, Plan, ResourceChange } from './plan-types.js';
import { listField } from './diff.js';

const SYMBOL = { create: '+', update: '~', delete: '-', move: '↕' } as const;

export function renderPlan(plan: Plan, paint: Painter): string {
  const out: string[] = [];
  const color = (action: ResourceChange['action'], s: string) =>
    action === 'create' ? paint.green(s) : action === 'delete' ? paint.red(s) : action === 'update' ? paint.yellow(s) : paint.cyan(s);

  if (plan.changes.length > 0) out.push(`hookctl will perform these actions (against state serial ${plan.state_serial}):`, '');

  // Connections and policies first, then each webhook list as one block, in plan order.
  const lists = new Map<string, Extract<ResourceChange, { kind: 'webhook' }>[]>();
  for (const c of plan.changes) {
    if (c.kind === 'webhook') {
      const id = `${c.policy_key}\u0000${c.phase}`;
      lists.set(id, [...(lists.get(id) ?? []), c]);
      continue;
    }
    out.push(color(c.action, `  ${SYMBOL[c.action]} ${c.kind} ${c.key}`));
    out.push(...renderFields(c.fields, '      '));
  }
  const destructive = new Set(plan.writes.lists.filter((l) => l.destructive).map((l) => `${l.policy_key}\u0000${l.phase}`));
  for (const [id, changes] of lists) {
    const [policyKey, phase] = id.split('\u0000') as [string, 'pre' | 'post'];
    out.push(`  ${paint.bold(`policy ${policyKey} ${listField(phase)}`)}`);
    if (destructive.has(id)) out.push(paint.red(`      ! destructive: [] deletes all ${changes.length} webhook(s) of this list`));
    for (const c of changes) {
      const pos = c.action === 'create' ? `at ${c.to}` : c.action === 'delete' ? `was at ${c.from}` : c.from !== c.to ? `${c.from} → ${c.to}` : `at ${c.to}`;
      out.push(color(c.action, `    ${SYMBOL[c.action]} ${c.key}  (${pos})`));
      if (c.action !== 'create') out.push(...renderFields(c.fields, '        '));
      else out.push(paint.dim(`        ${c.fields.map((f) => `${f.field}: ${show(f.after)}`).join(', ')}`));
    }
  }

  const kept = plan.unmanaged.filter((u) => !u.pruned);
  if (kept.length > 0) {
    out.push('', 'Unmanaged (in the state, in no manifest; kept):');
    for (const u of kept) {
      const why = u.origin === 'api' ? 'created through the API: never pruned' : 'use --prune to delete';
      out.push(`  ${u.kind} ${u.key}  (${why})`);
    }
  }

  out.push('');
  if (plan.changes.length === 0) out.push('No changes. State matches the manifests.');
  else {
    const s = plan.summary;
    out.push(paint.bold(`Plan: ${s.add} to add, ${s.change} to change, ${s.delete} to delete, ${s.move} to move.`));
  }
  return out.join('\n');
}

function renderFields(fields: FieldChange[], indent: string): string[] {
  const width = Math.max(0, ...fields.map((f) => f.field.length));
  return fields.map((f) => {
    const label = `${indent}${f.field.padEnd(width)}  `;
    if (f.sensitive) return `${label}(sensitive)`;
    if (f.before === undefined) return `${label}${show(f.after)}`;
    return `${label}${show(f.before)} → ${show(f.after)}`;
  });
}

function show(v: unknown): string {
  return v === null || v === undefined ? 'null' : JSON.stringify(v);
}
