/**
 * JSON Schema (draft-07) validation of YAML documents with positioned, readable diagnostics.
 * Generic: manifests and harness scenarios use it with their own schemas.
 *
 * Two annotation keywords let a schema word its own errors (editors ignore them):
 * - `x-messages`: `{ <ajv keyword>: <predicate> }`, e.g. `{ "type": "must be a secret ref" }`;
 *   the message becomes `<field> <predicate>`.
 * - `x-hints`: `{ <ajv keyword>: <hint> }`, the hint shown with that error.
 */
import { createHash } from 'node:crypto';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import type { ErrorObject, Options, ValidateFunction } from 'ajv';
import { type Diagnostic, type DiagnosticCode, formatPath } from './diagnostics.js';
import { didYouMean } from './suggest.js';
import type { YamlDocument } from './yaml-source.js';

type Segment = string | number;

interface Wording {
  code: DiagnosticCode;
  message: string;
  hint?: string;
  /** Underline the key (unknown fields) rather than the value. */
  which?: 'key';
  /** The path the problem is about, when not the instance's (a missing field). */
  path?: Segment[];
}

/** Synchronous loading: manifests are loaded synchronously, and these modules are CommonJS. */
const loadCommonJs = createRequire(import.meta.url);

/**
 * The ajv options of every schema check, at build time (src/manifest/precompile-schemas.ts) and at run
 * time alike. No meta-schema validation at run time (it costs more than the compile): schemas
 * ship with hookctl and strict mode plus their tests catch mistakes in them. strictTypes off: the
 * no-NUL rule is a bare `pattern`, applied to whatever strings it is put on.
 */
export const SCHEMA_CHECK_OPTIONS = {
  allErrors: true,
  verbose: true,
  strict: true,
  strictTypes: false,
  allowUnionTypes: true,
  validateSchema: false,
} as const satisfies Options;
export const SCHEMA_VOCABULARY = ['x-messages', 'x-hints'];

/** Identifies a schema's content, so a validator compiled from another version is not used. */
export function schemaDigest(schema: object): string {
  return createHash('sha256').update(JSON.stringify(schema)).digest('hex');
}

/** Compiles at run time; ajv is loaded only then (it and the compile are most of a cold start). */
export function compileSchema(schema: object): ValidateFunction {
  const { Ajv } = loadCommonJs('ajv') as typeof import('ajv');
  const ajv = new Ajv(SCHEMA_CHECK_OPTIONS);
  ajv.addVocabulary(SCHEMA_VOCABULARY);
  return ajv.compile(schema);
}

/**
 * The checker of a schema that ships with hookctl: the build compiles it to `precompiled` (ajv
 * standalone code), which is used when it was compiled from this very schema; otherwise (run
 * from the sources, or a build older than the schema) the schema is compiled now.
 */
export function shippedSchemaChecker(schema: object, precompiled: URL): (doc: YamlDocument) => Diagnostic[] {
  let validate: ValidateFunction | undefined;
  try {
    const built = loadCommonJs(fileURLToPath(precompiled)) as ValidateFunction & { schemaDigest: string };
    if (built.schemaDigest === schemaDigest(schema)) validate = built;
  } catch (err) {
    if ((err as { code?: unknown }).code !== 'MODULE_NOT_FOUND') throw err;
  }
  return createSchemaChecker(validate ?? compileSchema(schema));
}

export function createSchemaChecker(schemaOrValidator: object | ValidateFunction): (doc: YamlDocument) => Diagnostic[] {
  const validate = typeof schemaOrValidator === 'function' ? (schemaOrValidator as ValidateFunction) : compileSchema(schemaOrValidator);
  return (doc) => {
    if (validate(doc.value)) return [];
    return readableErrors(validate.errors ?? []).map((e) => {
      const at = instanceSegments(e.instancePath, doc.value);
      const w = describe(e, at);
      const path = w.path ?? at;
      return {
        ...doc.spanOf(path, w.which),
        severity: 'error',
        code: w.code,
        message: w.message,
        path: formatPath(path),
        ...(w.hint ? { hint: w.hint } : {}),
      };
    });
  };
}

/**
 * Drops errors that only restate others: `if` (its branch's errors say what is wrong) and the
 * alternatives of a failed anyOf/oneOf (ajv lists them just before it, under the same
 * instance), which the anyOf/oneOf error then speaks for.
 */
function readableErrors(errors: ErrorObject[]): ErrorObject[] {
  const keep = errors.map((e) => e.keyword !== 'if');
  errors.forEach((e, i) => {
    if (e.keyword !== 'anyOf' && e.keyword !== 'oneOf') return;
    const under = (p: string) => p === e.instancePath || p.startsWith(`${e.instancePath}/`);
    for (let j = i - 1; j >= 0 && under(errors[j]!.instancePath); j--) keep[j] = false;
  });
  return errors.filter((_, i) => keep[i]);
}

/** `/policy/0/name` → ['policy', 0, 'name'] (numbers where the value is a list). */
function instanceSegments(pointer: string, root: unknown): Segment[] {
  if (pointer === '') return [];
  const out: Segment[] = [];
  let value = root;
  for (const raw of pointer.slice(1).split('/')) {
    const seg = raw.replace(/~1/g, '/').replace(/~0/g, '~');
    if (Array.isArray(value)) {
      out.push(Number(seg));
      value = value[Number(seg)];
    } else {
      out.push(seg);
      value = (value as Record<string, unknown> | undefined)?.[seg];
    }
  }
  return out;
}

const TYPE_WORDS: Record<string, string> = {
  string: 'a string',
  integer: 'an integer',
  number: 'a number',
  boolean: 'true or false',
  object: 'a mapping',
  array: 'a list',
  null: 'null',
};

function describeValue(value: unknown): string {
  if (value === null || value === undefined) return 'null';
  if (Array.isArray(value)) return 'a list';
  if (typeof value === 'object') return 'a mapping';
  if (typeof value === 'string') return quote(value);
  return String(value);
}

const quote = (v: unknown) => (typeof v === 'string' ? `'${v}'` : String(v));
const quotedList = (vs: unknown[]) => vs.map(quote).join(', ');

function describe(e: ErrorObject, at: Segment[]): Wording {
  const parent = (e.parentSchema ?? {}) as { 'x-messages'?: Record<string, string>; 'x-hints'?: Record<string, string>; properties?: object };
  const last = at[at.length - 1];
  const subject = at.length === 0 ? 'the document' : typeof last === 'string' ? last : formatPath(at);
  const wording = genericWording(e, at, subject, parent.properties);
  const message = parent['x-messages']?.[e.keyword];
  const hint = parent['x-hints']?.[e.keyword];
  if (message) wording.message = `${subject} ${message}`;
  if (hint) wording.hint = hint;
  return wording;
}

function genericWording(e: ErrorObject, at: Segment[], subject: string, properties: object | undefined): Wording {
  const p = e.params as Record<string, unknown>;
  switch (e.keyword) {
    case 'required': {
      const field = String(p.missingProperty);
      return { code: 'missing-field', message: `missing required field '${field}'`, path: [...at, field] };
    }
    case 'additionalProperties': {
      const field = String(p.additionalProperty);
      const allowed = Object.keys(properties ?? {});
      return {
        code: 'unknown-field',
        message: `unknown field '${field}'${didYouMean(field, allowed)}`,
        ...(allowed.length > 0 ? { hint: `fields allowed here: ${allowed.join(', ')}` } : {}),
        which: 'key',
        path: [...at, field],
      };
    }
    case 'type': {
      const expected = [p.type].flat().map((t) => TYPE_WORDS[String(t)] ?? String(t));
      const scalarForString = expected.includes('a string') && (typeof e.data === 'number' || typeof e.data === 'boolean');
      return {
        code: 'invalid-type',
        message: `${subject} must be ${expected.join(' or ')} (got ${describeValue(e.data)})`,
        ...(scalarForString ? { hint: 'YAML reads this as a number or boolean: quote it to make it a string' } : {}),
      };
    }
    case 'enum': {
      const allowed = p.allowedValues as unknown[];
      const suggestion = typeof e.data === 'string' ? didYouMean(e.data, allowed.filter((v) => typeof v === 'string')) : '';
      const expectation = allowed.length === 1 ? quote(allowed[0]) : `one of ${quotedList(allowed)}`;
      return { code: 'invalid-value', message: `${subject} must be ${expectation} (got ${describeValue(e.data)})${suggestion}` };
    }
    case 'const':
      return { code: 'invalid-value', message: `${subject} must be ${quote(p.allowedValue)} (got ${describeValue(e.data)})` };
    case 'pattern':
      return { code: 'invalid-value', message: `${subject} must match ${String(p.pattern)} (got ${describeValue(e.data)})` };
    case 'minLength':
      return { code: 'invalid-value', message: p.limit === 1 ? `${subject} must not be empty` : `${subject} must have at least ${String(p.limit)} characters` };
    case 'maxLength': {
      const length = typeof e.data === 'string' ? [...e.data].length : 0;
      return { code: 'invalid-value', message: `${subject} has ${length} characters; at most ${String(p.limit)} are allowed` };
    }
    case 'maxItems':
    case 'minItems': {
      const bound = e.keyword === 'maxItems' ? 'at most' : 'at least';
      const count = Array.isArray(e.data) ? e.data.length : 0;
      return { code: 'invalid-value', message: `${subject} has ${count} items; ${bound} ${String(p.limit)} are allowed` };
    }
    case 'minimum':
    case 'maximum':
    case 'exclusiveMinimum':
    case 'exclusiveMaximum':
      return { code: 'invalid-value', message: `${subject} must be ${String(p.comparison)} ${String(p.limit)} (got ${describeValue(e.data)})` };
    case 'anyOf':
    case 'oneOf': {
      const several = e.keyword === 'oneOf' && p.passingSchemas !== null;
      return { code: 'invalid-value', message: `${subject} ${several ? 'matches more than one' : 'does not match any'} of the allowed forms` };
    }
    default:
      return { code: 'invalid-value', message: `${subject} ${e.message ?? 'is not valid'}` };
  }
}
