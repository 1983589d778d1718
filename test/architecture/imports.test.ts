/**
 * The layering of src/, checked on the source: modules form no import cycle, the model imports
 * nothing outside itself, and the server reaches the model without going through reconcile/.
 */
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';

const SRC = path.resolve(import.meta.dirname, '../../src');

/** Every .ts file of src/ (relative, without extension) → the src/ modules it imports. */
function importGraph(): Map<string, string[]> {
  const graph = new Map<string, string[]>();
  const files = (fs.readdirSync(SRC, { recursive: true }) as string[]).filter((f) => f.endsWith('.ts'));
  for (const file of files) {
    const text = fs.readFileSync(path.join(SRC, file), 'utf8');
    const targets = [...text.matchAll(/(?:\bfrom|\bimport\()\s*['"](\.{1,2}\/[^'"]+)\.js['"]/g)].map((m) =>
      path.normalize(path.join(path.dirname(file), m[1]!)),
    );
    graph.set(file.replace(/\.ts$/, ''), targets.filter((t) => !t.startsWith('..')));
  }
  return graph;
}

/** One cycle, as the modules along it, or null. */
function findCycle(graph: Map<string, string[]>): string[] | null {
  const state = new Map<string, 'open' | 'done'>();
  const stack: string[] = [];
  const visit = (node: string): string[] | null => {
    if (state.get(node) === 'done') return null;
    if (state.get(node) === 'open') return [...stack.slice(stack.indexOf(node)), node];
    state.set(node, 'open');
    stack.push(node);
    for (const next of graph.get(node) ?? []) {
      const cycle = visit(next);
      if (cycle) return cycle;
    }
    stack.pop();
    state.set(node, 'done');
    return null;
  };
  for (const node of graph.keys()) {
    const cycle = visit(node);
    if (cycle) return cycle;
  }
  return null;
}

describe('the import graph of src/', () => {
  const graph = importGraph();
  const importsOf = (dir: string) => [...graph].filter(([file]) => file.startsWith(`${dir}/`)).flatMap(([file, targets]) => targets.map((t) => `${file} → ${t}`));

  it('has files to check', () => {
    expect(graph.size).toBeGreaterThan(50);
  });

  it('has no cycle', () => {
    expect(findCycle(graph)).toBeNull();
  });

  it('keeps the model free of every other layer', () => {
    expect(importsOf('model').filter((edge) => !edge.split(' → ')[1]!.startsWith('model/'))).toEqual([]);
  });

  it('keeps SQL in src/state: the engine neither imports knex nor writes a statement', () => {
    const engineFiles = (fs.readdirSync(path.join(SRC, 'engine')) as string[]).filter((f) => f.endsWith('.ts'));
    const offending = engineFiles.filter((f) => /from 'knex'|\.raw\(|['"`]\s*(SELECT|UPDATE|INSERT|DELETE)\b/i.test(fs.readFileSync(path.join(SRC, 'engine', f), 'utf8')));
    expect(engineFiles.length).toBeGreaterThan(5);
    expect(offending).toEqual([]);
  });

  it('keeps the server off the reconciler', () => {
    expect(importsOf('server').filter((edge) => edge.split(' → ')[1]!.startsWith('reconcile/'))).toEqual([]);
  });
});
