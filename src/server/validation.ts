/**
 * Request validation with the JSON Schemas of schemas/api/ (the single source of truth for
 * request shapes), reported the way FastAPI/pydantic v1 does: 422
 * `{"detail":[{"loc":["body",0,"direction"],"msg":"…","type":"…"}]}`.
 */
import fs from 'node:fs';
import path from 'node:path';
import { Ajv, type AnySchemaObject, type ErrorObject, type ValidateFunction } from 'ajv';
import type { FastifySchemaCompiler } from 'fastify';
import { shippedSchemaDir } from '../fs-paths.js';

export interface ValidationDetail {
  loc: (string | number)[];
  msg: string;
  type: string;
}

/** A 422 whose `detail` is the list of problems. */
export class RequestValidationError extends Error {
  readonly statusCode = 422;
  constructor(readonly detail: ValidationDetail[]) {
    super(detail.map((d) => `${d.loc.join('.')}: ${d.msg}`).join('; '));
    this.name = 'RequestValidationError';
  }
}

export type ApiSchemaName =
  | 'connection-patch'
  | 'connection-secret'
  | 'policy-patch'
  | 'webhook-put'
  | 'webhook-patch'
  | 'privacy-request-create'
  | 'privacy-request-search'
  | 'oauth-token'
  | 'oauth-client-create';

const COMMON = 'common.schema.json';

function readSchema(dir: string, file: string): AnySchemaObject {
  return JSON.parse(fs.readFileSync(path.join(dir, file), 'utf8')) as AnySchemaObject;
}

/** A body schema by name, to put in a route's `schema.body`. */
export function bodySchema(name: ApiSchemaName): AnySchemaObject {
  return { $ref: `${name}.schema.json` };
}

/** A definition of common.schema.json, to use inside a route's query or path schema. */
export function commonDefinition(name: string): AnySchemaObject {
  return { $ref: `${COMMON}#/definitions/${name}` };
}

/** Path parameters that must be FidesKeys. */
export function fidesKeyParams(...names: string[]): AnySchemaObject {
  return {
    type: 'object',
    required: names,
    properties: Object.fromEntries(names.map((n) => [n, { $ref: `${COMMON}#/definitions/fidesKey` }])),
  };
}

const LOCATIONS: Record<string, string> = { body: 'body', params: 'path', querystring: 'query', headers: 'header' };

/**
 * Every schema a route may reference by `$id`: the manifest schema (the API's limits are its
 * definitions, one declaration for both) and those of schemas/api/. The validators and the
 * OpenAPI document both read them from here.
 */
export function apiSchemaDocuments(): AnySchemaObject[] {
  const dir = shippedSchemaDir('api', COMMON);
  const files = fs.readdirSync(dir).filter((f) => f.endsWith('.schema.json')).sort();
  return [readSchema(path.dirname(dir), 'manifest.schema.json'), ...files.map((f) => readSchema(dir, f))];
}

/**
 * The validator compiler of the whole server. Bodies are checked strictly; path and query
 * values arrive as strings, so that instance coerces them (page=2 → 2) and fills defaults.
 * Query parameters a route does not declare are ignored, as FastAPI ignores them.
 */
export function createValidatorCompiler(documents: readonly AnySchemaObject[] = apiSchemaDocuments()): FastifySchemaCompiler<AnySchemaObject> {
  const make = (coerce: boolean) => {
    // strictTypes off: the no-NUL rule is a bare `pattern`, applied to whatever strings it is put on.
    // 'array': a repeated query parameter (status=a&status=b) and a single one read alike.
    const ajv = new Ajv({
      allErrors: true,
      verbose: true,
      strict: true,
      strictTypes: false,
      allowUnionTypes: true,
      coerceTypes: coerce ? 'array' : false,
      useDefaults: coerce,
    });
    ajv.addVocabulary(['x-messages', 'x-hints']);
    for (const document of documents) ajv.addSchema(document);
    return ajv;
  };
  const strict = make(false);
  const coercing = make(true);
  return ({ schema, httpPart }) => {
    const part = httpPart ?? 'body';
    const validate: ValidateFunction = (part === 'body' ? strict : coercing).compile(schema);
    const location = LOCATIONS[part] ?? part;
    const integers = part === 'body' ? [] : integerProperties(schema);
    // Returning {error} lets fastify pass our 422 through; schemaEnv keeps Ajv's in-place
    // coercion of the request's own object.
    const wrapped = Object.assign(
      (data: unknown, cxt?: unknown) => {
        const notIntegers = nonIntegerStrings(data, integers, location);
        if (notIntegers.length > 0) return { error: new RequestValidationError(notIntegers) };
        return (
          (validate as (d: unknown, c?: unknown) => boolean)(data, cxt) || {
            error: new RequestValidationError(validationDetails(validate.errors ?? [], location, data)),
          }
        );
      },
      { schemaEnv: validate.schemaEnv },
    );
    return wrapped;
  };
}

/** The integer-typed properties of a path or query schema. */
function integerProperties(schema: AnySchemaObject): string[] {
  const properties = (schema.properties ?? {}) as Record<string, { type?: unknown }>;
  return Object.keys(properties).filter((name) => properties[name]!.type === 'integer');
}

/**
 * Ajv's coercion takes '1e309', '0x10', ' 5' and '2.0' as numbers (the first as Infinity);
 * a page or size is written in plain decimal digits, as FastAPI requires.
 */
function nonIntegerStrings(data: unknown, names: readonly string[], location: string): ValidationDetail[] {
  if (names.length === 0 || typeof data !== 'object' || data === null) return [];
  const values = data as Record<string, unknown>;
  return names
    .filter((name) => typeof values[name] === 'string' && !/^[+-]?\d{1,15}$/.test(values[name]))
    .map((name) => ({ loc: [location, name], msg: TYPE_MESSAGES.integer![0], type: TYPE_MESSAGES.integer![1] }));
}

/** The manifest schema's `noNul`: no NUL character in any string. */
const NO_NUL_PATTERN = '^[^\\u0000]*$';
const FIDES_KEY_MESSAGE = "FidesKey must only contain alphanumeric characters, '.', '_' or '-'.";

/** Ajv errors → pydantic-v1-style details, one per problem. */
export function validationDetails(errors: readonly ErrorObject[], location: string, data: unknown): ValidationDetail[] {
  const details: ValidationDetail[] = [];
  for (const e of errors) {
    // A nullable field is `anyOf: [X, {type: null}]`: report X's problem alone.
    if (e.keyword === 'anyOf' || (e.keyword === 'type' && e.params.type === 'null')) continue;
    const loc: (string | number)[] = [location, ...pointerSegments(e.instancePath)];
    const detail = describe(e, loc, data);
    // Branches of one field (`allOf` parts, `anyOf` alternatives) can fail alike: report it once.
    if (!details.some((d) => JSON.stringify(d) === JSON.stringify(detail))) details.push(detail);
  }
  return details;
}

function pointerSegments(pointer: string): (string | number)[] {
  if (!pointer) return [];
  return pointer
    .slice(1)
    .split('/')
    .map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'))
    .map((s) => (/^\d+$/.test(s) ? Number(s) : s));
}

const TYPE_MESSAGES: Record<string, [string, string]> = {
  integer: ['value is not a valid integer', 'type_error.integer'],
  number: ['value is not a valid number', 'type_error.number'],
  string: ['str type expected', 'type_error.str'],
  boolean: ['value could not be parsed to a boolean', 'type_error.bool'],
  array: ['value is not a valid list', 'type_error.list'],
  object: ['value is not a valid dict', 'type_error.dict'],
};

function describe(e: ErrorObject, loc: (string | number)[], data: unknown): ValidationDetail {
  const p = e.params as Record<string, unknown>;
  switch (e.keyword) {
    case 'required':
      return { loc: [...loc, String(p.missingProperty)], msg: 'field required', type: 'value_error.missing' };
    case 'additionalProperties':
      return { loc: [...loc, String(p.additionalProperty)], msg: 'extra fields not permitted', type: 'value_error.extra' };
    case 'enum': {
      const allowed = (p.allowedValues as unknown[]).map((v) => `'${String(v)}'`).join(', ');
      return { loc, msg: `value is not a valid enumeration member; permitted: ${allowed}`, type: 'type_error.enum' };
    }
    case 'type': {
      // fastify hands a missing body over as null.
      if (loc.length === 1 && (data === null || data === undefined)) return { loc, msg: 'field required', type: 'value_error.missing' };
      const [msg, type] = TYPE_MESSAGES[String(p.type).split(',')[0]!] ?? [e.message ?? 'invalid value', 'type_error'];
      return { loc, msg, type };
    }
    case 'pattern':
      if (p.pattern === '^[a-zA-Z0-9_.-]+$') return { loc, msg: FIDES_KEY_MESSAGE, type: 'value_error' };
      if (p.pattern === NO_NUL_PATTERN) return { loc, msg: 'string contains a NUL character', type: 'value_error.str.nul' };
      if (String(e.schemaPath).includes('definitions/dateTime')) return { loc, msg: 'invalid datetime format', type: 'value_error.datetime' };
      return { loc, msg: `string does not match regex "${String(p.pattern)}"`, type: 'value_error.str.regex' };
    case 'maxLength':
      return { loc, msg: `ensure this value has at most ${String(p.limit)} characters`, type: 'value_error.any_str.max_length' };
    case 'maxItems':
      return { loc, msg: `ensure this value has at most ${String(p.limit)} items`, type: 'value_error.list.max_items' };
    case 'minLength':
      return { loc, msg: `ensure this value has at least ${String(p.limit)} characters`, type: 'value_error.any_str.min_length' };
    case 'minimum':
      return { loc, msg: `ensure this value is greater than or equal to ${String(p.limit)}`, type: 'value_error.number.not_ge' };
    case 'maximum':
      return { loc, msg: `ensure this value is less than or equal to ${String(p.limit)}`, type: 'value_error.number.not_le' };
    default:
      return { loc, msg: e.message ?? 'invalid value', type: `value_error.${e.keyword}` };
  }
}
