import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { type Diagnostic, type DiagnosticCode, formatPath, type SourceSpan, unpositioned } from '../src/manifest/diagnostics.js';
import { classifyFile, type SkippedFile } from '../src/manifest/kind.js';
import { shippedSchemaChecker } from '../src/manifest/schema-check.js';
import { collectYamlFiles, parseYamlText, type YamlDocument } from '../src/manifest/yaml-source.js';
import scenarioSchema from '../schemas/scenario.schema.json' with { type: 'json' };

export type Fault = 'timeout' | 'network_error' | 'status' | 'malformed_body';
export type ResumeToken = 'valid' | 'expired' | 'tampered' | 'reuse';
/** The statuses a request can settle in. */
export type SettledStatus = 'complete' | 'error' | 'paused';

export interface Respond {
  status: number;
  /** undefined: no body. A string is sent as text, anything else as JSON. */
  body: unknown;
  headers: Record<string, string>;
  delay_ms: number;
}

export interface ResumeSpec {
  after_ms: number;
  body: unknown;
  token: ResumeToken;
}

/** How one call is answered: `respond` and/or `fault` (both null: 200, no body), then `resume`. */
export interface Answer {
  respond: Respond | null;
  fault: Fault | null;
  resume: ResumeSpec | null;
}

export interface Endpoint {
  url: string;
  method: string;
  /** The endpoint's own answer: for calls past `times`, or all calls when there is no `times`. */
  answer: Answer;
  /** times[n] answers call n (0-based) of this endpoint. */
  times: Answer[];
}

export interface ExpectedCall {
  url?: string;
  method?: string;
  callback_type?: 'pre' | 'post';
  direction?: 'one_way' | 'two_way';
  /** Lower-cased header name → exact value, or 'present' / 'absent'. */
  headers?: Record<string, string>;
  body?: unknown;
}

export interface Expectations {
  status: SettledStatus;
  failure_reason?: string;
  identity?: { email?: string | null; phone_number?: string | null };
  calls?: ExpectedCall[];
  resume?: { status: number };
}

export interface ScenarioRequest {
  /** Label in reports. */
  name: string;
  policy_key: string;
  identity: { email?: string; phone_number?: string };
  expect: Expectations;
}

export interface Scenario {
  name: string;
  /** The scenario file, and the document's index in it. */
  file: string;
  document: number;
  line: number;
  /** Absolute manifest paths, resolved against the scenario file; null when the scenario names none. */
  manifests: string[] | null;
  env: Record<string, string>;
  strict: boolean;
  endpoints: Endpoint[];
  requests: ScenarioRequest[];
  /**
   * Where a part of the scenario is written, e.g. `['requests', 0, 'policy_key']`, for problems
   * found after loading (a policy the manifests lack). Not enumerable: a scenario stays plain data.
   */
  readonly spanOf: (path: readonly (string | number)[], which?: 'key' | 'value') => SourceSpan;
}

export interface LoadedScenarios {
  scenarios: Scenario[];
  diagnostics: Diagnostic[];
  /** File text by file name, for formatDiagnostics' source excerpts. */
  sources: Map<string, string>;
  /** Manifest files found among the paths, left out. */
  skipped: SkippedFile[];
}

/**
 * Load scenario files and folders. Every problem is reported at once, positioned; scenarios are
 * returned only when there is no error (callers exit 3 otherwise).
 */
export async function loadScenarios(paths: string[], cwd: string): Promise<LoadedScenarios> {
  const collected = collectYamlFiles(paths, cwd);
  const diagnostics: Diagnostic[] = [...collected.diagnostics];
  const sources = new Map<string, string>();
  const scenarios: Scenario[] = [];
  const checkSchema = shippedSchemaChecker(scenarioSchema, new URL('../schemas/scenario.validate.cjs', import.meta.url));
  const names = new Map<string, Scenario>();
  const skipped: SkippedFile[] = [];
  const texts = await Promise.all(collected.files.map((file) => readFile(path.resolve(cwd, file), 'utf8').catch((error: Error) => error)));
  collected.files.forEach((file, i) => {
    const text = texts[i] as string | Error;
    if (text instanceof Error) {
      diagnostics.push({ ...unpositioned(file), severity: 'error', code: 'unreadable-file', message: `cannot read the file: ${text.message}`, path: '' });
      return;
    }
    const parsed = parseYamlText(file, text);
    // A file that does not parse has no kind to read: it is reported by every command.
    const kind = parsed.diagnostics.some((d) => d.severity === 'error') ? { kind: 'scenario' as const } : classifyFile(file, parsed.documents);
    if ('kind' in kind && kind.kind === 'manifest') {
      skipped.push({ file, kind: 'manifest' });
      return;
    }
    sources.set(file, text);
    diagnostics.push(...parsed.diagnostics);
    if ('diagnostic' in kind) {
      diagnostics.push(kind.diagnostic);
      return;
    }
    for (const doc of parsed.documents) {
      const schemaErrors = checkSchema(doc);
      diagnostics.push(...schemaErrors);
      if (schemaErrors.length > 0) continue;
      const scenario = toScenario(doc, path.resolve(cwd, file));
      diagnostics.push(...checkScenario(scenario, doc));
      const namesake = names.get(scenario.name);
      if (namesake) {
        diagnostics.push({
          ...doc.spanOf(['name']), severity: 'warning', code: 'duplicate-scenario-name', path: 'name',
          message: `scenario '${scenario.name}' is also declared at ${namesake.file}:${namesake.line}; reports cannot tell them apart`,
        });
      }
      names.set(scenario.name, scenario);
      scenarios.push(scenario);
    }
  });
  const failed = diagnostics.some((d) => d.severity === 'error');
  return { scenarios: failed ? [] : scenarios, diagnostics, sources, skipped };
}

// The shapes below are what the schema has already guaranteed; these types only name them.
interface RawRespond { status: number; body?: unknown; headers?: Record<string, string>; delay_ms?: number }
interface RawStep { respond?: RawRespond; fault?: Fault; then?: { resume: Partial<ResumeSpec> } }
interface RawEndpoint extends RawStep { url: string; method?: string; times?: RawStep[] }
interface RawRequest { name?: string; policy_key: string; identity: ScenarioRequest['identity']; expect?: Partial<Expectations> }
interface RawScenario {
  name: string;
  manifests?: string | string[];
  env?: Record<string, string>;
  strict?: boolean;
  endpoints?: RawEndpoint[];
  requests: RawRequest[];
}

function toScenario(doc: YamlDocument, absoluteFile: string): Scenario {
  const raw = doc.value as RawScenario;
  const dir = path.dirname(absoluteFile);
  const manifests = raw.manifests === undefined ? null : [raw.manifests].flat().map((p) => path.resolve(dir, p));
  const scenario: Omit<Scenario, 'spanOf'> = {
    name: raw.name,
    file: doc.file,
    document: doc.index,
    line: doc.spanOf([]).line,
    manifests,
    env: raw.env ?? {},
    strict: raw.strict ?? true,
    endpoints: (raw.endpoints ?? []).map((e) => ({
      url: e.url,
      method: e.method ?? 'POST',
      answer: toAnswer(e),
      times: (e.times ?? []).map((step) => (step.respond || step.fault ? toAnswer(step) : { ...toAnswer(e), resume: toResume(step) })),
    })),
    requests: raw.requests.map((r) => ({
      name: r.name ?? `${r.policy_key} ${Object.values(r.identity).join(' ')}`,
      policy_key: r.policy_key,
      identity: r.identity,
      expect: { ...r.expect, status: r.expect?.status ?? 'complete', calls: r.expect?.calls?.map(lowerCaseHeaders) },
    })),
  };
  const spanOf: Scenario['spanOf'] = (at, which) => doc.spanOf(at, which);
  return Object.defineProperty(scenario, 'spanOf', { value: spanOf, enumerable: false }) as Scenario;
}

function toAnswer(step: RawStep): Answer {
  const respond = step.respond ? { status: step.respond.status, body: step.respond.body, headers: step.respond.headers ?? {}, delay_ms: step.respond.delay_ms ?? 0 } : null;
  return { respond, fault: step.fault ?? null, resume: toResume(step) };
}

function toResume(step: RawStep): ResumeSpec | null {
  const resume = step.then?.resume;
  return resume ? { after_ms: resume.after_ms ?? 0, body: resume.body ?? {}, token: resume.token ?? 'valid' } : null;
}

function lowerCaseHeaders(call: ExpectedCall): ExpectedCall {
  if (!call.headers) return call;
  return { ...call, headers: Object.fromEntries(Object.entries(call.headers).map(([k, v]) => [k.toLowerCase(), v])) };
}

type YamlPath = (string | number)[];

/** Checks the schema cannot express. */
function checkScenario(scenario: Scenario, doc: YamlDocument): Diagnostic[] {
  const raw = doc.value as RawScenario;
  const out: Diagnostic[] = [];
  const report = (severity: Diagnostic['severity'], code: DiagnosticCode, at: YamlPath, message: string, hint?: string, which: 'key' | 'value' = 'value') =>
    out.push({ ...doc.spanOf(at, which), severity, code, message, path: formatPath(at), ...(hint ? { hint } : {}) });

  const declared = new Map<string, number>();
  const declaredUrls = new Set<string>();
  (raw.endpoints ?? []).forEach((endpoint, i) => {
    const at: YamlPath = ['endpoints', i];
    const url = normalizeUrl(endpoint.url);
    if (url === null) {
      report('error', 'invalid-url', [...at, 'url'], `'${endpoint.url}' is not a valid URL`, 'write an absolute URL such as https://hooks.example.com/privacy');
    } else {
      declaredUrls.add(url);
      const id = `${endpoint.method ?? 'POST'} ${url}`;
      const first = declared.get(id);
      if (first === undefined) declared.set(id, i);
      else report('error', 'duplicate-endpoint', [...at, 'url'], `endpoint ${id} is already declared at endpoints[${first}]`, 'declare each endpoint once; use `times` for answers that change per call');
    }
    checkAnswer(endpoint, at, report);
    (endpoint.times ?? []).forEach((step, n) => checkAnswer(step, [...at, 'times', n], report));
  });

  const resumes = scenario.endpoints.some((e) => e.answer.resume || e.times.some((t) => t.resume));
  raw.requests.forEach((request, i) => {
    const expect = request.expect;
    if (expect?.resume && !resumes) {
      report('error', 'resume-without-callback', ['requests', i, 'expect', 'resume'], 'expect.resume needs an endpoint that sends a resume callback', 'add `then: { resume: { after_ms: … } }` to the endpoint that halts', 'key');
    }
    if (!scenario.strict) return;
    (expect?.calls ?? []).forEach((call, n) => {
      const url = call.url === undefined ? null : normalizeUrl(call.url);
      if (url !== null && !declaredUrls.has(url)) {
        report('warning', 'undeclared-endpoint', ['requests', i, 'expect', 'calls', n, 'url'], `no endpoint declares ${call.url}; in strict mode a call to it fails the scenario`);
      }
    });
  });
  return out;
}

type Report = (severity: Diagnostic['severity'], code: DiagnosticCode, at: YamlPath, message: string, hint?: string, which?: 'key' | 'value') => void;

function checkAnswer(step: RawStep, at: YamlPath, report: Report): void {
  const { fault, respond } = step;
  if (fault === 'status' && !respond) {
    report('error', 'fault-needs-status', [...at, 'fault'], '`fault: status` needs `respond.status`, the status to answer with', 'add `respond: { status: 503 }`');
  }
  if ((fault === 'timeout' || fault === 'network_error') && respond) {
    report('error', 'respond-never-sent', [...at, 'respond'], `\`respond\` is never sent with \`fault: ${fault}\``, 'remove `respond`, or remove the fault', 'key');
  }
  if (fault === 'malformed_body' && respond?.body !== undefined) {
    report('error', 'respond-never-sent', [...at, 'respond', 'body'], '`fault: malformed_body` sends its own non-JSON body', 'remove `respond.body`', 'key');
  }
  if (respond && [204, 205, 304].includes(respond.status) && (respond.body !== undefined || fault === 'malformed_body')) {
    const at2 = respond.body !== undefined ? [...at, 'respond', 'body'] : [...at, 'respond', 'status'];
    report('error', 'body-not-allowed', at2, `HTTP ${respond.status} cannot have a body`, 'answer with another status, or send no body', 'key');
  }
}

/** The URL as the engine's requests will carry it (WHATWG-normalized, without fragment); null when invalid. */
export function normalizeUrl(url: string): string | null {
  try {
    const parsed = new URL(url);
    if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') return null;
    parsed.hash = '';
    return parsed.href;
  } catch {
    return null;
  }
}
