/**
 * Positioned problems found in YAML input (manifests, harness scenarios) and their three
 * renderings: a human one with code frames, a stable JSON report for tools, and GitHub annotations.
 */
import { painter } from '../paint.js';

/**
 * A region of a source file. Lines and columns are 1-based; the end is exclusive (the column
 * just after the last character). `line: 0` means the problem has no position inside the file
 * (a path that does not exist, a file that cannot be read).
 */
export interface SourceSpan {
  file: string;
  line: number;
  column: number;
  end_line: number;
  end_column: number;
}

/**
 * Every diagnostic code, stable and kebab-case: tools match on them (`--format json`, GitHub
 * annotations), so they are a closed set and a new one is added here.
 */
export type DiagnosticCode =
  // Files and YAML
  | 'missing-path'
  | 'no-yaml-files'
  | 'read-error'
  | 'unreadable-file'
  | 'unknown-file-kind'
  | 'yaml-syntax'
  | 'yaml-warning'
  | 'yaml-unresolved-alias'
  | 'duplicate-key'
  | 'not-formattable'
  // Schema
  | 'missing-field'
  | 'unknown-field'
  | 'invalid-type'
  | 'invalid-value'
  // Manifest sets
  | 'invalid-derived-key'
  | 'duplicate-connection-key'
  | 'duplicate-policy-key'
  | 'duplicate-webhook-key'
  | 'duplicate-webhook-name'
  | 'unknown-connection'
  | 'invalid-url'
  | 'reserved-env-ref'
  | 'secret-file-outside-root'
  | 'secret-file-is-state'
  // Scenarios
  | 'duplicate-scenario-name'
  | 'duplicate-endpoint'
  | 'resume-without-callback'
  | 'undeclared-endpoint'
  | 'fault-needs-status'
  | 'respond-never-sent'
  | 'body-not-allowed'
  | 'no-manifests'
  | 'missing-manifests'
  | 'unknown-policy'
  | 'invalid-authorization'
  | 'unresolved-secret';

export interface Diagnostic extends SourceSpan {
  severity: 'error' | 'warning';
  code: DiagnosticCode;
  message: string;
  /** Where in the document's data, e.g. `policy[0].pre_execution_webhooks[1].direction`. */
  path: string;
  hint?: string;
}

export type DiagnosticFormat = 'text' | 'json' | 'github';
export const DIAGNOSTIC_FORMATS: readonly DiagnosticFormat[] = ['text', 'json', 'github'];

/** A span for a problem with a whole file or path rather than a place in it. */
export function unpositioned(file: string): SourceSpan {
  return { file, line: 0, column: 0, end_line: 0, end_column: 0 };
}

/** `file:line:col` (or just `file` when the span has no position). */
export function formatPosition(span: SourceSpan): string {
  return span.line > 0 ? `${span.file}:${span.line}:${span.column}` : span.file;
}

/** A data path as users read it: `policy[0].pre_execution_webhooks[1].direction`. */
export function formatPath(path: readonly (string | number)[]): string {
  let out = '';
  for (const seg of path) {
    if (typeof seg === 'number') out += `[${seg}]`;
    else if (/^[A-Za-z_][\w-]*$/.test(seg)) out += out === '' ? seg : `.${seg}`;
    else out += `[${JSON.stringify(seg)}]`;
  }
  return out;
}

export function countBySeverity(diags: readonly Diagnostic[]): { errors: number; warnings: number } {
  let errors = 0;
  for (const d of diags) if (d.severity === 'error') errors++;
  return { errors, warnings: diags.length - errors };
}

/** Orders diagnostics by file (in the given order), then position; stable for ties. */
export function sortDiagnostics(diags: Diagnostic[], fileOrder: readonly string[]): Diagnostic[] {
  const rank = new Map(fileOrder.map((f, i) => [f, i]));
  const fileRank = (d: Diagnostic) => rank.get(d.file) ?? fileOrder.length;
  return [...diags].sort((a, b) => fileRank(a) - fileRank(b) || a.line - b.line || a.column - b.column);
}

export function formatDiagnostics(
  diags: Diagnostic[],
  format: DiagnosticFormat,
  opts: { color: boolean; sources: Map<string, string> },
): string {
  switch (format) {
    case 'json':
      return formatJson(diags);
    case 'github':
      return diags.map(formatGithubLine).join('');
    case 'text':
      return formatText(diags, opts);
  }
}

function formatJson(diags: Diagnostic[]): string {
  const { errors, warnings } = countBySeverity(diags);
  const report = {
    valid: errors === 0,
    error_count: errors,
    warning_count: warnings,
    diagnostics: diags.map((d) => ({
      severity: d.severity,
      code: d.code,
      message: d.message,
      file: d.file,
      line: d.line,
      column: d.column,
      end_line: d.end_line,
      end_column: d.end_column,
      path: d.path,
    })),
  };
  return `${JSON.stringify(report, null, 2)}\n`;
}

// GitHub workflow commands: data escapes %, CR, LF; properties also escape ':' and ','.
const escapeData = (s: string) => s.replace(/%/g, '%25').replace(/\r/g, '%0D').replace(/\n/g, '%0A');
const escapeProperty = (s: string) => escapeData(s).replace(/:/g, '%3A').replace(/,/g, '%2C');

function formatGithubLine(d: Diagnostic): string {
  const props = [`file=${escapeProperty(d.file)}`];
  if (d.line > 0) props.push(`line=${d.line}`, `col=${d.column}`);
  const text = d.hint ? `${d.message}\nhint: ${d.hint}` : d.message;
  return `::${d.severity} ${props.join(',')}::${escapeData(text)}\n`;
}

function formatText(diags: Diagnostic[], opts: { color: boolean; sources: Map<string, string> }): string {
  if (diags.length === 0) return '';
  const paint = painter(opts.color);
  const linesOf = new Map<string, string[]>();
  const sourceLines = (file: string): string[] | undefined => {
    if (!linesOf.has(file)) {
      const text = opts.sources.get(file);
      if (text === undefined) return undefined;
      linesOf.set(file, text.split(/\r?\n/));
    }
    return linesOf.get(file);
  };

  const blocks = diags.map((d) => {
    const severity = d.severity === 'error' ? paint.red(`error[${d.code}]`) : paint.yellow(`warning[${d.code}]`);
    const out = [`${paint.bold(formatPosition(d))}: ${severity}: ${d.message}`];
    const line = d.line > 0 ? sourceLines(d.file)?.[d.line - 1] : undefined;
    if (line !== undefined) out.push(...codeFrame(d, /(^|\.)secrets(\.|$)/.test(d.path) ? hideValue(line) : line, paint));
    if (d.hint) out.push(`  ${paint.cyan('hint')}: ${d.hint}`);
    return out.join('\n');
  });

  const { errors, warnings } = countBySeverity(diags);
  const counts = [plural(errors, 'error'), plural(warnings, 'warning')].filter((s) => !s.startsWith('0 '));
  const summary = errors > 0 ? paint.red(`✗ ${counts.join(', ')}`) : paint.yellow(counts.join(', '));
  return `${blocks.join('\n\n')}\n\n${summary}\n`;
}

/** The diagnostic's first source line with a gutter and an underline of the span on it. */
function codeFrame(d: Diagnostic, line: string, paint: ReturnType<typeof painter>): string[] {
  const gutter = String(d.line);
  const pad = ' '.repeat(gutter.length);
  const start = d.column - 1;
  const end = d.end_line === d.line ? d.end_column - 1 : line.trimEnd().length;
  // Keep tabs so the underline lines up with the source however the terminal renders them.
  const indent = line.slice(0, start).replace(/[^\t]/g, ' ');
  const marks = '^'.repeat(Math.max(1, end - start));
  const colorMarks = d.severity === 'error' ? paint.red(marks) : paint.yellow(marks);
  return [` ${paint.dim(`${gutter} |`)} ${line}`, ` ${paint.dim(`${pad} |`)} ${indent}${colorMarks}`];
}

/**
 * A source line under `secrets` may hold a secret (an inline authorization is exactly the
 * mistake being reported): show the key, never the value, since CI logs keep this output.
 */
function hideValue(line: string): string {
  return line.replace(/^(\s*(?:-\s+)?[^:#]+:\s*)(\S.*)$/, (_, key: string, value: string) => `${key}${'*'.repeat(Math.min(value.length, 8))}`);
}

export function plural(n: number, noun: string, nouns = `${noun}s`): string {
  return `${n} ${n === 1 ? noun : nouns}`;
}
