/**
 * Plans rendered for people: the terminal (`text`) and pull-request comments (`markdown`). Both
 * come from one list of lines: `+` create, `~` update, `-` delete, `↕` move; connections first,
 * then each policy with its webhook lists indented under it. Secret values are never in a plan
 * (refs are `(sensitive)`); a literal URL is, since the manifest that holds it is in git.
 */
import type { Painter } from '../paint.js';
import type { Plan } from './plan-types.js';
import type { FieldChange, ResourceChange } from '../model/changes.js';
import { listField } from '../model/phases.js';

export type PlanFormat = 'text' | 'json' | 'markdown';
export const PLAN_FORMATS: readonly PlanFormat[] = ['text', 'json', 'markdown'];

/** Where a rendered plan came from, when it is a saved one (`hookctl show`). */
export interface SavedPlanSource {
  file: string;
}

const SYMBOL = { create: '+', update: '~', delete: '-', move: '↕' } as const;
export const DRIFT_LABEL = '(changed outside hookctl)';
export const NOT_VERIFIED_NOTE = 'signature not verified, which needs the master key; hookctl apply --plan verifies it and refuses an edited plan';

type Style = ResourceChange['action'] | 'header' | 'warning' | 'detail';

interface Line {
  indent: number;
  /** The change's symbol: first on the line (first column in a diff). */
  symbol?: string;
  text: string;
  style: Style;
}

/** The lines of one change, with the headers that introduce it; `changes`: how many changes it counts. */
interface Unit {
  lines: Line[];
  changes: number;
}

export function renderPlan(plan: Plan, paint: Painter, source?: SavedPlanSource): string {
  const style: Record<Style, (s: string) => string> = {
    create: paint.green,
    delete: paint.red,
    update: paint.yellow,
    move: paint.cyan,
    header: paint.bold,
    warning: paint.red,
    detail: paint.dim,
  };
  const out: string[] = [];
  if (source) out.push(paint.dim(`Saved plan ${source.file}, made ${plan.created_at} (${NOT_VERIFIED_NOTE}).`), '');
  if (plan.changes.length > 0) out.push(`hookctl will perform these actions (against ${plan.fides ? `${plan.fides.target}, revision` : 'state serial'} ${plan.state_serial}):`, '');
  for (const unit of planUnits(plan)) {
    for (const l of unit.lines) out.push(' '.repeat(2 + l.indent) + style[l.style](l.symbol ? `${l.symbol} ${l.text}` : l.text));
  }
  const kept = keptUnmanaged(plan);
  if (kept.length > 0) {
    out.push('', 'Unmanaged (in the state, in no manifest; kept):');
    for (const u of kept) out.push(`  ${u.kind} ${u.key}  (${unmanagedReason(u)})`);
  }
  out.push('');
  if (plan.changes.length === 0) out.push('No changes. State matches the manifests.');
  else out.push(paint.bold(`Plan: ${counts(plan)}.`));
  return out.join('\n');
}

/**
 * GitHub refuses comments over 65,536 characters: the diff stops after this many lines or
 * characters (whichever comes first) and says how many changes it left out.
 */
export const MARKDOWN_MAX_LINES = 400;
export const MARKDOWN_MAX_DIFF_CHARS = 40_000;

/** A pull-request comment: summary line, counts table, the changes as a fenced `diff` block. */
export function renderPlanMarkdown(plan: Plan, source?: SavedPlanSource): string {
  const s = plan.summary;
  const out: string[] = [];
  out.push(plan.changes.length === 0 ? '### hookctl plan: no changes' : `### hookctl plan: ${counts(plan)}`, '');
  if (source) out.push(`Saved plan \`${source.file}\`, made ${plan.created_at} (${NOT_VERIFIED_NOTE}).`, '');
  out.push(
    plan.changes.length === 0
      ? `State matches the manifests (state serial ${plan.state_serial}).`
      : `Against state serial ${plan.state_serial}, manifests \`${plan.manifest_digest.slice(0, 12)}\`${plan.prune ? ', with --prune' : ''}.`,
    '',
    '| add | change | delete | move |',
    '|----:|-------:|-------:|-----:|',
    `| ${s.add} | ${s.change} | ${s.delete} | ${s.move} |`,
  );
  const drifted = plan.changes.filter((c) => c.drift).length;
  if (drifted > 0) out.push('', `**${drifted} of these changes undo changes made outside hookctl** (through the API, since its last apply): marked ${DRIFT_LABEL}.`);
  const destructive = plan.writes.lists.filter((l) => l.destructive);
  if (destructive.length > 0) {
    const shown = destructive.slice(0, 20).map((l) => `\`${l.policy_key}\` ${listField(l.phase)}`);
    const more = destructive.length > shown.length ? ` and ${destructive.length - shown.length} more lists` : '';
    out.push('', `**Destructive:** \`[]\` deletes every webhook of ${shown.join(', ')}${more}.`);
  }
  if (plan.changes.length > 0) {
    const lines: string[] = [];
    let chars = 0;
    let left = 0;
    for (const unit of planUnits(plan)) {
      const text = unit.lines.map((l) => (l.symbol ? `${l.symbol} ` : '  ') + ' '.repeat(l.indent) + l.text);
      const size = text.reduce((n, t) => n + t.length + 1, 0);
      if (left > 0 || lines.length + text.length > MARKDOWN_MAX_LINES || chars + size > MARKDOWN_MAX_DIFF_CHARS) {
        left += unit.changes;
        continue;
      }
      lines.push(...text);
      chars += size;
    }
    if (left > 0) lines.push(`… and ${left} more change${left === 1 ? '' : 's'} (run hookctl plan for the whole plan)`);
    // A fence longer than any run of backticks inside (names may hold some) cannot be closed early.
    const fence = '`'.repeat(Math.max(3, ...[...lines.join('\n').matchAll(/`+/g)].map((m) => m[0].length + 1)));
    out.push('', `${fence}diff`, ...lines, fence);
  }
  const kept = keptUnmanaged(plan);
  if (kept.length > 0) {
    const shown = kept.slice(0, 50).map((u) => `\`${u.kind} ${u.key}\``);
    out.push('', `Unmanaged (in the state, in no manifest; kept): ${shown.join(', ')}${kept.length > shown.length ? ` and ${kept.length - shown.length} more` : ''}.`);
  }
  return `${out.join('\n')}\n`;
}

/** Connections, then policies in plan order, each followed by its lists' changes. */
function planUnits(plan: Plan): Unit[] {
  const units: Unit[] = [];
  const policies = new Map<string, { own?: ResourceChange; lists: Map<string, Extract<ResourceChange, { kind: 'webhook' }>[]> }>();
  const policy = (key: string) => {
    let p = policies.get(key);
    if (!p) policies.set(key, (p = { lists: new Map() }));
    return p;
  };
  for (const c of plan.changes) {
    if (c.kind === 'connection') units.push({ lines: resourceLines(c, `connection ${c.key}`, 0), changes: 1 });
    else if (c.kind === 'policy') policy(c.key).own = c;
    else {
      const lists = policy(c.policy_key).lists;
      const field = listField(c.phase);
      const list = lists.get(field);
      if (list) list.push(c);
      else lists.set(field, [c]);
    }
  }
  const destructive = new Set(plan.writes.lists.filter((l) => l.destructive).map((l) => `${l.policy_key}/${listField(l.phase)}`));
  for (const [key, p] of policies) {
    // A policy whose own fields do not change still heads its lists, without a symbol.
    let pending: Line[] = [];
    if (p.own) units.push({ lines: resourceLines(p.own, `policy ${key}`, 0), changes: 1 });
    else pending.push({ indent: 0, text: `policy ${key}`, style: 'header' });
    for (const [field, changes] of p.lists) {
      pending.push({ indent: 4, text: field, style: 'header' });
      if (destructive.has(`${key}/${field}`)) {
        pending.push({ indent: 6, text: `! destructive: [] deletes all ${changes.length} webhook(s) of this list`, style: 'warning' });
      }
      for (const c of changes) {
        units.push({ lines: [...pending, ...webhookLines(c)], changes: 1 });
        pending = [];
      }
    }
  }
  return units;
}

function resourceLines(c: ResourceChange, title: string, indent: number): Line[] {
  return [
    { indent, symbol: SYMBOL[c.action], text: c.drift ? `${title}  ${DRIFT_LABEL}` : title, style: c.action },
    ...fieldLines(c.fields, c.action === 'create').map((text) => ({ indent: indent + 4, text, style: c.action === 'create' ? ('detail' as const) : c.action })),
  ];
}

function webhookLines(c: Extract<ResourceChange, { kind: 'webhook' }>): Line[] {
  const pos = c.action === 'create' ? `at ${c.to}` : c.action === 'delete' ? `was at ${c.from}` : c.from !== c.to ? `${c.from} → ${c.to}` : `at ${c.to}`;
  const lines: Line[] = [{ indent: 6, symbol: SYMBOL[c.action], text: `${c.key}  (${pos})${c.drift ? `  ${DRIFT_LABEL}` : ''}`, style: c.action }];
  if (c.action === 'create') lines.push({ indent: 10, text: c.fields.map((f) => `${f.field}: ${show(f.after)}`).join(', '), style: 'detail' });
  else lines.push(...fieldLines(c.fields, false).map((text) => ({ indent: 10, text, style: c.action })));
  return lines;
}

function fieldLines(fields: FieldChange[], create: boolean): string[] {
  const width = Math.max(0, ...fields.map((f) => f.field.length));
  return fields.map((f) => {
    const label = `${f.field.padEnd(width)}  `;
    // A secret side that is absent is hidden; a present one is a literal URL from a manifest.
    const side = (v: unknown) => (v === undefined && f.sensitive ? '(sensitive)' : show(v));
    if (create) return `${label}${side(f.after)}`;
    if (f.sensitive && f.before === undefined && f.after === undefined) return `${label}(sensitive)`;
    return `${label}${side(f.before)} → ${side(f.after)}`;
  });
}

function counts(plan: Plan): string {
  const s = plan.summary;
  return `${s.add} to add, ${s.change} to change, ${s.delete} to delete, ${s.move} to move`;
}

function keptUnmanaged(plan: Plan): Plan['unmanaged'] {
  return plan.unmanaged.filter((u) => !u.pruned);
}

function unmanagedReason(u: Plan['unmanaged'][number]): string {
  return u.origin === 'api' ? 'created through the API: never pruned' : 'use --prune to delete';
}

function show(v: unknown): string {
  return v === null || v === undefined ? 'null' : JSON.stringify(v);
}
