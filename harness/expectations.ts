import type { JournalCall, JournalResume } from './journal.js';
import { type ExpectedCall, type Expectations, normalizeUrl } from './scenario.js';
import type { RequestView } from './target.js';

/** One checked expectation. `expected` and `actual` are display values (secrets already masked). */
export interface ExpectationResult {
  /** e.g. `status`, `identity.phone_number`, `calls[1].url`, `calls (count)`, `resume.status`. */
  name: string;
  pass: boolean;
  expected: unknown;
  actual: unknown;
  /** Context the two values do not give (which call, the failure reason, …); empty when they say it all. */
  message: string;
}

/** What was observed of one request once it settled. */
export interface RequestObservation {
  view: RequestView;
  /** Its webhook calls, in order (journal entries whose body.privacy_request_id is the request's id). */
  calls: JournalCall[];
  resumes: JournalResume[];
}

/** Header values worth a check but never worth printing. */
const SENSITIVE_HEADERS = new Set(['authorization', 'proxy-authorization', 'cookie', 'reply-to-token']);

export function evaluateRequest(expect: Expectations, observed: RequestObservation, opts: { strict: boolean }): ExpectationResult[] {
  const { view, calls, resumes } = observed;
  const results: ExpectationResult[] = [];
  results.push(check('status', expect.status, view.status, view.failure_reason ? `failure_reason: ${view.failure_reason}` : ''));
  if (expect.failure_reason !== undefined) {
    const actual = view.failure_reason;
    results.push({
      name: 'failure_reason',
      pass: actual !== null && actual.includes(expect.failure_reason),
      expected: `…${expect.failure_reason}…`,
      actual,
      message: actual === null ? 'the request has no failure reason' : 'the failure reason does not contain the expected text',
    });
  }
  for (const [field, expected] of Object.entries(expect.identity ?? {})) {
    const actual = view.identity[field as keyof RequestView['identity']] ?? null;
    results.push(check(`identity.${field}`, expected, actual));
  }
  if (expect.calls) results.push(...checkCalls(expect.calls, calls));
  if (expect.resume) results.push(...checkResumes(expect.resume.status, resumes));
  if (opts.strict) results.push(...undeclaredCalls(calls));
  return results;
}

/** Calls to endpoints the scenario does not declare fail it in strict mode. */
export function undeclaredCalls(calls: JournalCall[]): ExpectationResult[] {
  return calls
    .filter((c) => c.endpoint === null)
    .map((c) => ({
      name: `strict: undeclared endpoint ${c.url}`,
      pass: false,
      expected: 'no call',
      actual: describeCall(c),
      message: `${c.method} ${c.url} is not among the scenario's endpoints (strict mode)`,
    }));
}

function checkCalls(expected: ExpectedCall[], actual: JournalCall[]): ExpectationResult[] {
  const results: ExpectationResult[] = [
    check(
      'calls (count)',
      expected.map(describeExpectedCall),
      actual.map(describeCall),
      `expected ${count(expected.length, 'call')}, the request made ${actual.length}`,
      expected.length === actual.length,
    ),
  ];
  expected.forEach((want, i) => {
    const call = actual[i];
    if (!call) {
      results.push({ name: `calls[${i}]`, pass: false, expected: describeExpectedCall(want), actual: '(no call)', message: `there is no call #${i}: the request made ${count(actual.length, 'call')}` });
      return;
    }
    results.push(...checkCall(i, want, call));
  });
  return results;
}

function checkCall(index: number, want: ExpectedCall, call: JournalCall): ExpectationResult[] {
  const name = `calls[${index}]`;
  const results: ExpectationResult[] = [];
  const body = isRecord(call.body) ? call.body : {};
  const field = (key: string, expected: unknown, actual: unknown, same = expected === actual) =>
    results.push(check(`${name}.${key}`, expected, actual, `call #${index}: ${call.method} ${call.url}`, same));
  if (want.url !== undefined) field('url', want.url, call.url, (normalizeUrl(want.url) ?? want.url) === call.url);
  if (want.method !== undefined) field('method', want.method.toUpperCase(), call.method);
  if (want.callback_type !== undefined) field('callback_type', want.callback_type, body.callback_type ?? null);
  if (want.direction !== undefined) field('direction', want.direction, body.direction ?? null);
  for (const [header, expected] of Object.entries(want.headers ?? {})) {
    results.push(checkHeader(`${name}.headers.${header}`, header, expected, call.headers[header]));
  }
  if (want.body !== undefined) {
    const diff = subsetDiff(want.body, call.body, 'body');
    results.push({
      name: `${name}.body`,
      pass: diff === null,
      expected: diff ? diff.expected : want.body,
      actual: diff ? diff.actual : call.body,
      message: diff ? `call #${index}: at ${diff.path}: ${diff.reason}` : '',
    });
  }
  return results;
}

function checkHeader(name: string, header: string, expected: string, actual: string | undefined): ExpectationResult {
  if (expected === 'present' || expected === 'absent') {
    const pass = (actual !== undefined) === (expected === 'present');
    const shown = actual === undefined ? '(absent)' : SENSITIVE_HEADERS.has(header) ? masked(actual) : actual;
    return { name, pass, expected, actual: shown, message: '' };
  }
  const pass = actual === expected;
  if (!SENSITIVE_HEADERS.has(header)) {
    return check(name, expected, actual ?? '(absent)', '', pass);
  }
  return {
    name,
    pass,
    expected: masked(expected),
    actual: actual === undefined ? '(absent)' : masked(actual, pass ? '' : ', different'),
    message: pass ? '' : 'a sensitive value: not shown',
  };
}

function checkResumes(expected: number, resumes: JournalResume[]): ExpectationResult[] {
  if (resumes.length === 0) {
    return [{ name: 'resume.status', pass: false, expected, actual: '(no resume sent)', message: 'no resume callback was sent for this request (did a then.resume endpoint get called?)' }];
  }
  return resumes.map((r) => {
    const name = resumes.length === 1 ? 'resume.status' : `resume.status (after call #${r.call_seq})`;
    const detail = isRecord(r.body) && typeof r.body.detail === 'string' ? `: ${r.body.detail}` : '';
    const actual = r.status ?? `(not sent: ${r.error})`;
    const message = r.status === null ? `the resume callback was not sent: ${r.error}` : `token: ${r.token}${detail}`;
    return check(name, expected, actual, message, r.status === expected);
  });
}

interface Difference {
  path: string;
  expected: unknown;
  actual: unknown;
  reason: string;
}

/** The first place where `actual` does not contain `expected` (objects: keys given; arrays: same length, element-wise). */
export function subsetDiff(expected: unknown, actual: unknown, path: string): Difference | null {
  if (Array.isArray(expected)) {
    if (!Array.isArray(actual)) return { path, expected, actual, reason: `expected an array, got ${show(actual)}` };
    if (actual.length !== expected.length) return { path, expected, actual, reason: `expected ${count(expected.length, 'element')}, got ${actual.length}` };
    for (let i = 0; i < expected.length; i++) {
      const diff = subsetDiff(expected[i], actual[i], `${path}[${i}]`);
      if (diff) return diff;
    }
    return null;
  }
  if (isRecord(expected)) {
    if (!isRecord(actual)) return { path, expected, actual, reason: `expected an object, got ${show(actual)}` };
    for (const [key, value] of Object.entries(expected)) {
      if (!(key in actual)) return { path: `${path}.${key}`, expected: value, actual: '(missing)', reason: `${key} is missing` };
      const diff = subsetDiff(value, actual[key], `${path}.${key}`);
      if (diff) return diff;
    }
    return null;
  }
  return expected === actual ? null : { path, expected, actual, reason: differs(expected, actual) };
}

function describeExpectedCall(call: ExpectedCall): string {
  const parts = [call.method, call.url ?? '(any url)', call.callback_type, call.direction].filter((p) => p !== undefined);
  return parts.join(' ');
}

/** One line per actual call: method, url, callback type, direction, and how it was answered. */
export function describeCall(call: JournalCall): string {
  const body = isRecord(call.body) ? call.body : {};
  const parts = [call.method, call.url, body.callback_type, body.direction].filter((p) => typeof p === 'string');
  return `${parts.join(' ')} → ${call.answer}`;
}

function check(name: string, expected: unknown, actual: unknown, context = '', pass = expected === actual): ExpectationResult {
  return { name, pass, expected, actual, message: pass ? '' : context };
}

function masked(value: string, note = ''): string {
  return `(sensitive, ${count(value.length, 'character')}${note})`;
}

function count(n: number, noun: string): string {
  return `${n} ${noun}${n === 1 ? '' : 's'}`;
}

/** A value as one line of text: strings bare, everything else as JSON. */
export function show(value: unknown): string {
  if (typeof value === 'string') return value;
  return value === undefined ? '(none)' : JSON.stringify(value);
}

/** Two values that differ, shown so that they also look different (`2` and `"2"`). */
export function showPair(expected: unknown, actual: unknown): [string, string] {
  const pair: [string, string] = [show(expected), show(actual)];
  return pair[0] === pair[1] ? [JSON.stringify(expected) ?? '(none)', JSON.stringify(actual) ?? '(none)'] : pair;
}

/** `expected X, got Y` for messages. */
export function differs(expected: unknown, actual: unknown): string {
  const [e, a] = showPair(expected, actual);
  return `expected ${e}, got ${a}`;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
