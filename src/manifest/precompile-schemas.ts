/**
 * Build step (after tsc): compiles the schemas that ship with hookctl to ajv standalone code in
 * dist/schemas, so that a command starts without loading ajv or compiling a schema. Each module
 * carries the digest of the schema it was compiled from: a stale one is ignored at run time.
 */
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Ajv } from 'ajv';
import standaloneCode from 'ajv/dist/standalone/index.js';
import { SCHEMA_CHECK_OPTIONS, SCHEMA_VOCABULARY, schemaDigest } from './schema-check.js';

const schemasDir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../schemas');
for (const name of ['manifest', 'scenario']) {
  const schema = JSON.parse(fs.readFileSync(path.join(schemasDir, `${name}.schema.json`), 'utf8')) as object;
  const ajv = new Ajv({ ...SCHEMA_CHECK_OPTIONS, code: { source: true } });
  ajv.addVocabulary(SCHEMA_VOCABULARY);
  const code = standaloneCode.default(ajv, ajv.compile(schema));
  fs.writeFileSync(path.join(schemasDir, `${name}.validate.cjs`), `${code}\nmodule.exports.schemaDigest = ${JSON.stringify(schemaDigest(schema))};\n`);
}
