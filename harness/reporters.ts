import { painter, type Painter } from '../src/paint.js';
import type { ReporterFormat } from './report-formats.js';
import { differs, type ExpectationResult, show, showPair } from './expectations.js';
import type { RequestResult, ScenarioResult, SimulationReport } from './runner.js';


export interface ReportOptions {
  color: boolean;
  /** text: every expectation of every request, not only the failures. */
  verbose?: boolean;
}

export function formatReport(report: SimulationReport, format: ReporterFormat, opts: ReportOptions): string {
  switch (format) {
    case 'text':
      return textReport(report, painter(opts.color), { verbose: opts.verbose ?? false });
    case 'json':
      return jsonReport(report);
    case 'junit':
      return junitReport(report);
  }
}

/**
 * One line per scenario, and under a failed one its failed requests with the failed
 * expectations, expected and actual side by side. Verbose: every request and every expectation.
 */
export function textReport(report: SimulationReport, paint: Painter = painter(false), opts: { verbose: boolean } = { verbose: false }): string {
  const lines: string[] = [];
  const mark = (pass: boolean) => (pass ? paint.green('✓') : paint.red('✗'));
  for (const scenario of report.scenarios) {
    lines.push(`${mark(scenario.pass)} ${paint.bold(scenario.name)} ${paint.dim(`(${scenario.file}:${scenario.line}, ${scenario.duration_ms} ms)`)}`);
    for (const request of scenario.requests) {
      if (request.pass && !opts.verbose) continue;
      lines.push(`  ${mark(request.pass)} ${requestTitle(request)}${request.request_id ? ` (${request.request_id})` : ''}${request.status ? ` → ${request.status}` : ''}`);
      for (const e of request.expectations) if (opts.verbose || !e.pass) lines.push(...expectationLines(e, '      ', paint));
    }
    for (const e of scenario.errors) lines.push(...expectationLines(e, '  ', paint));
  }
  const summary = `${report.scenarios.length} scenario${report.scenarios.length === 1 ? '' : 's'}, ${report.passed} passed, ${report.failed} failed`;
  lines.push('', report.failed > 0 ? paint.red(summary) : paint.green(summary));
  return `${lines.join('\n')}\n`;
}

function expectationLines(e: ExpectationResult, indent: string, paint: Painter): string[] {
  if (e.pass) return [`${indent}${paint.green('✓')} ${e.name} ${paint.dim(passedValue(e.actual))}`];
  return [`${indent}${paint.red('✗')} ${e.name}${e.message ? ` — ${e.message}` : ''}`, ...difference(e, `${indent}    `, paint)];
}

/** Expected next to actual: two aligned lines, or a two-column table for lists (e.g. calls). */
function difference(e: ExpectationResult, indent: string, paint: Painter): string[] {
  if (isTextList(e.expected) && isTextList(e.actual)) {
    const expected = e.expected;
    const actual = e.actual;
    const width = Math.max('expected'.length, ...expected.map((s) => s.length));
    const rows = Math.max(expected.length, actual.length);
    const numberWidth = String(rows).length;
    const row = (n: string, left: string, right: string) => `${indent}${n.padStart(numberWidth)}  ${left.padEnd(width)}   ${right}`.trimEnd();
    const out = [paint.dim(row('#', 'expected', 'actual'))];
    for (let i = 0; i < rows; i++) {
      const left = expected[i] ?? '—';
      const right = actual[i] ?? '—';
      const line = row(String(i), left, right);
      out.push(i >= expected.length || i >= actual.length ? paint.red(line) : line);
    }
    return out;
  }
  const [expected, actual] = showPair(e.expected, e.actual);
  return [`${indent}expected: ${paint.green(expected)}`, `${indent}actual:   ${paint.red(actual)}`];
}

function passedValue(actual: unknown): string {
  return isTextList(actual) ? `${actual.length}` : show(actual);
}

function isTextList(value: unknown): value is string[] {
  return Array.isArray(value) && value.every((v) => typeof v === 'string');
}

/** The same in every run: a JUnit test case name CI history can follow (never the random request id). */
function requestTitle(request: RequestResult): string {
  return `requests[${request.index}] ${request.name}`;
}

export function jsonReport(report: SimulationReport): string {
  const { scenarios, passed, failed, duration_ms } = report;
  return `${JSON.stringify({ summary: { scenarios: scenarios.length, passed, failed, duration_ms }, scenarios }, null, 2)}\n`;
}

/** JUnit XML: a testsuite per scenario, a testcase per request (plus one for scenario-wide failures). */
export function junitReport(report: SimulationReport): string {
  const cases = (s: ScenarioResult) => s.requests.length + (s.errors.length > 0 ? 1 : 0);
  const failures = (s: ScenarioResult) => s.requests.filter((r) => !r.pass).length + (s.errors.length > 0 ? 1 : 0);
  const total = report.scenarios.reduce((n, s) => n + cases(s), 0);
  const failed = report.scenarios.reduce((n, s) => n + failures(s), 0);
  const out = [
    '<?xml version="1.0" encoding="UTF-8"?>',
    `<testsuites name="hookctl simulate" tests="${total}" failures="${failed}" errors="0" time="${seconds(report.duration_ms)}">`,
  ];
  for (const s of report.scenarios) {
    out.push(`  <testsuite name="${attr(s.name)}" tests="${cases(s)}" failures="${failures(s)}" errors="0" time="${seconds(s.duration_ms)}" file="${attr(s.file)}">`);
    for (const r of s.requests) out.push(...testcase(s.name, requestTitle(r), r.duration_ms, r.expectations, r.request_id));
    if (s.errors.length > 0) out.push(...testcase(s.name, 'scenario', 0, s.errors, null));
    out.push('  </testsuite>');
  }
  out.push('</testsuites>');
  return `${out.join('\n')}\n`;
}

function testcase(classname: string, name: string, ms: number, expectations: ExpectationResult[], requestId: string | null): string[] {
  const open = `    <testcase classname="${attr(classname)}" name="${attr(name)}" time="${seconds(ms)}"`;
  const failed = expectations.filter((e) => !e.pass);
  if (failed.length === 0) return [`${open}/>`];
  const message = failed.map(oneLine).join('; ');
  // The request id changes every run: it goes in the failure text, never the name.
  const detail = [...(requestId ? [`privacy request ${requestId}`] : []), ...failed.flatMap((e) => expectationLines(e, '', painter(false)))].join('\n');
  return [`${open}>`, `      <failure message="${attr(message)}" type="expectation">${text(detail)}</failure>`, '    </testcase>'];
}

/** A failed expectation in one line, for the JUnit failure message. */
function oneLine(e: ExpectationResult): string {
  if (isTextList(e.expected) && isTextList(e.actual)) return `${e.name}: ${e.message}`;
  return `${e.name}: ${differs(e.expected, e.actual)}${e.message ? ` (${e.message})` : ''}`;
}

function seconds(ms: number): string {
  return (ms / 1000).toFixed(3);
}

// Characters XML 1.0 cannot carry at all (control characters, lone surrogates, U+FFFE/U+FFFF).
const NOT_XML = /[^\t\n\r\u0020-\uD7FF\uE000-\uFFFD\u{10000}-\u{10FFFF}]/gu;

function text(value: string): string {
  return value.replace(NOT_XML, '\uFFFD').replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

function attr(value: string): string {
  return text(value).replace(/"/g, '&quot;').replace(/'/g, '&apos;').replace(/\n/g, '&#10;').replace(/\r/g, '&#13;').replace(/\t/g, '&#9;');
}
