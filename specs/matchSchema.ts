/**
 * Validation of YAML/JSON values against the published JSON Schemas in specs/schema/ (the one description of what
 * a scenario or spec file may hold; editors validate against the same files). A value that does not match becomes a
 * ShapeError located by its YAML path (`programs[0].ops[3].cpu`) and saying what was expected there.
 */
import { readFileSync } from 'node:fs';
import AjvModule, { type ErrorObject } from 'ajv';
import { ShapeError, child, describeValue } from './shape.ts';
import { parseVersionRange } from './versionRange.ts';

/** The files of specs/schema/, by the name before `.schema.json`. */
export type SchemaName = 'scenario' | 'rule' | 'op' | 'map_op' | 'lifetime' | 'kernels' | 'divergence' | 'selftests' | 'profile';
const SCHEMA_NAMES: readonly SchemaName[] = ['scenario', 'rule', 'op', 'map_op', 'lifetime', 'kernels', 'divergence', 'selftests', 'profile'];

type JsonSchema = { readonly [key: string]: unknown };

function readSchema(name: SchemaName): JsonSchema {
  return JSON.parse(readFileSync(new URL(`./schema/${name}.schema.json`, import.meta.url), 'utf8')) as JsonSchema;
}
const SCHEMAS = new Map(SCHEMA_NAMES.map((name) => [`${name}.schema.json`, readSchema(name)]));

const INT64_MIN = -(2n ** 63n);
const U64_MAX = 2n ** 64n - 1n;

function versionRangeProblem(range: string): string | null {
  try {
    parseVersionRange(range);
    return null;
  } catch (error) {
    return (error as Error).message;
  }
}

// ajv is CommonJS: under NodeNext its class is the default export's `default`
const Ajv = AjvModule.default;
// Validators run on a handful of small files per command, so compiling them is what costs (0.6–0.9 s of CPU at every
// start with ajv's defaults): unoptimised code and $refs called rather than inlined halve that.
const ajv = new Ajv({
  allErrors: false, verbose: true, discriminator: true, strict: true, strictRequired: false, allowUnionTypes: true,
  inlineRefs: false, code: { optimize: false }, schemas: [...SCHEMAS.values()],
});
// formats the schema names but JSON Schema cannot spell: checked here, ignored (as unknown formats are) by editors
ajv.addFormat('kernel-range', { type: 'string', validate: (s: string) => versionRangeProblem(s) === null });
ajv.addFormat('int64-or-u64', { type: 'string', validate: (s: string) => /^-?\d+$/.test(s) && BigInt(s) >= INT64_MIN && BigInt(s) <= U64_MAX });


/**
 * `value` as the type the schema describes, deeply frozen (in place).
 * @throws ShapeError naming the first mismatch by its YAML path from the file's root
 */
export function matchSchema<T>(name: SchemaName, value: unknown): T {
  // compiled on first use: `--help`, `kernels` or `emulate` compile none
  const validate = ajv.getSchema(`${name}.schema.json`)!;
  if (!validate(value)) throw shapeError(validate.errors ?? []);
  return deepFreeze(value) as T;
}

function deepFreeze(value: unknown): unknown {
  if (typeof value === 'object' && value !== null) {
    for (const v of Object.values(value)) deepFreeze(v);
    Object.freeze(value);
  }
  return value;
}

/** The JSON pointer `/programs/0/ops/3` as the YAML path `programs[0].ops[3]`. */
function yamlPath(pointer: string): string {
  return pointer.split('/').slice(1).reduce((p, seg) => {
    const key = seg.replaceAll('~1', '/').replaceAll('~0', '~');
    return child(p, /^\d+$/.test(key) ? Number(key) : key);
  }, '');
}

/**
 * The subschema behind a `$ref`, or the schema itself. Refs are `#/definitions/<name>` or `<file>#/definitions/<name>`,
 * and a definition's name means the same thing in every schema file that has it.
 */
function resolved(schema: unknown): JsonSchema {
  if (typeof schema !== 'object' || schema === null) return {};
  const s = schema as JsonSchema;
  if (typeof s.$ref !== 'string' || s.description !== undefined) return s;
  const [file = '', fragment = ''] = s.$ref.split('#');
  const name = fragment.replace(/^\/definitions\//, '');
  if (name === '') return SCHEMAS.get(file) ?? {};
  const holder = [...SCHEMAS.values()].find((x) => (x.definitions as Record<string, unknown> | undefined)?.[name] !== undefined);
  return resolved((holder?.definitions as Record<string, unknown> | undefined)?.[name]);
}

/** What a schema asks for, in words: its description (but a mapping or list of the wrong type is named as such), or what its keywords say. */
function expectedOf(schema: JsonSchema, keyword = ''): string {
  const container = keyword === 'type' && (schema.type === 'object' || schema.type === 'array');
  if (typeof schema.description === 'string' && !container) return schema.description;
  if (schema.const !== undefined) return `'${String(schema.const)}'`;
  if (Array.isArray(schema.enum)) return `one of ${schema.enum.join(', ')}`;
  switch (schema.type) {
    case 'boolean': return 'true or false';
    case 'array': return 'a list';
    case 'object': return `a mapping with keys ${Object.keys((schema.properties ?? {}) as object).join(', ')}`;
    case 'integer': return `an integer in [${String(schema.minimum)}, ${String(schema.maximum)}]`;
    case 'string': return 'a string';
    default: return 'a value';
  }
}

/**
 * The most specific of ajv's errors (the deepest path; at equal depth the last, which sums up a oneOf). An `if`
 * error only says its then/else branch failed, and that branch's own error comes before it: it is passed over.
 */
function mostSpecific(errors: readonly ErrorObject[]): ErrorObject {
  const depth = (e: ErrorObject): number => e.instancePath.split('/').length;
  const telling = errors.filter((e) => e.keyword !== 'if');
  return (telling.length > 0 ? telling : errors).reduce((best, e) => (depth(e) >= depth(best) ? e : best));
}

function shapeError(errors: readonly ErrorObject[]): ShapeError {
  const e = mostSpecific(errors);
  const at = yamlPath(e.instancePath);
  const parent = (e.parentSchema ?? {}) as JsonSchema;
  const params = e.params as Record<string, unknown>;
  switch (e.keyword) {
    case 'required': {
      const key = String(params.missingProperty);
      const props = (parent.properties ?? {}) as Record<string, unknown>;
      return new ShapeError(child(at, key), expectedOf(resolved(props[key])), 'nothing');
    }
    case 'additionalProperties': {
      const key = String(params.additionalProperty);
      const allowed = Object.keys((parent.properties ?? {}) as object).join(', ');
      return new ShapeError(child(at, key), `no such key (allowed: ${allowed})`, describeValue((e.data as Record<string, unknown>)[key]));
    }
    case 'discriminator': {
      const tag = String(params.tag);
      const data = (e.data ?? {}) as Record<string, unknown>;
      const tags = ((parent.oneOf ?? []) as JsonSchema[]).flatMap((s) => {
        const t = ((s.properties ?? {}) as Record<string, JsonSchema>)[tag];
        return Array.isArray(t?.enum) ? t.enum.map(String) : [String(t?.const)];
      });
      return new ShapeError(child(at, tag), `one of ${tags.join(', ')}`, describeValue(data[tag]));
    }
    case 'minItems':
    case 'maxItems': {
      const bound = `a list of ${e.keyword === 'minItems' ? 'at least' : 'at most'} ${String(params.limit)} items`;
      return new ShapeError(at, typeof parent.description === 'string' ? parent.description : bound, `${(e.data as unknown[]).length} items`);
    }
    case 'maxLength':
      return new ShapeError(at, `at most ${String(params.limit)} characters`, `${[...(e.data as string)].length} characters`);
    case 'maxProperties':
      return new ShapeError(at, `a mapping of at most ${String(params.limit)} keys`, `${Object.keys(e.data as object).length} keys`);
    case 'propertyNames':
      return new ShapeError(child(at, String(params.propertyName)), 'a C identifier as the key', describeValue(params.propertyName));
    case 'format': {
      const problem = params.format === 'kernel-range' ? versionRangeProblem(String(e.data)) : null;
      return new ShapeError(at, expectedOf(parent), `${describeValue(e.data)}${problem === null ? '' : ` (${problem})`}`);
    }
    default:
      return new ShapeError(at, expectedOf(parent, e.keyword), describeValue(e.data));
  }
}
