/**
 * Small readers that check one YAML/JSON value against the shape a type in types/ needs and say where it failed.
 * They throw {@link ShapeError}; parseScenario and the spec loader turn that into one KptrError line.
 */
import { RESERVED_IDENTIFIERS } from './vocabulary.ts';

/** A value that does not have the expected shape, located by its YAML path (`programs[0].ops[3].cpu`). */
export class ShapeError extends Error {
  override readonly name = 'ShapeError';
  constructor(
    readonly path: string,
    readonly expected: string,
    readonly got: string,
  ) {
    super(`${path === '' ? '' : `${path}: `}expected ${expected}, got ${got}`);
  }
}

/** How a value is named in "got …": short, and never the whole value. */
export function describeValue(value: unknown): string {
  if (value === undefined) return 'nothing';
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'a list';
  switch (typeof value) {
    case 'string': {
      const text = value.length > 40 ? `${value.slice(0, 37)}...` : value;
      return `string ${JSON.stringify(text)}`;
    }
    case 'number':
    case 'boolean':
      return `${typeof value} ${String(value)}`;
    case 'object':
      return 'a mapping';
    default:
      return typeof value;
  }
}

/** YAML path of a member: `child('programs', 0)` is `programs[0]`, `child('', 'id')` is `id`. */
export function child(path: string, key: string | number): string {
  if (typeof key === 'number') return `${path}[${key}]`;
  return path === '' ? key : `${path}.${key}`;
}

/**
 * A mapping whose keys are all among `allowed`. Missing keys are left to the field readers (they see
 * `undefined`, reported as "got nothing"), so every required field is named by its own path.
 */
export function readObject(value: unknown, path: string, allowed: readonly string[]): Readonly<Record<string, unknown>> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new ShapeError(path, `a mapping with keys ${allowed.join(', ')}`, describeValue(value));
  }
  const record = value as Record<string, unknown>;
  for (const key of Object.keys(record)) {
    if (!allowed.includes(key)) throw new ShapeError(child(path, key), `no such key (allowed: ${allowed.join(', ')})`, describeValue(record[key]));
  }
  return record;
}

export function readString(value: unknown, path: string): string {
  if (typeof value !== 'string' || value === '') throw new ShapeError(path, 'a non-empty string', describeValue(value));
  return value;
}

export function readMatching(value: unknown, path: string, pattern: RegExp, what: string): string {
  if (typeof value !== 'string' || !pattern.test(value)) throw new ShapeError(path, what, describeValue(value));
  return value;
}

export function readBoolean(value: unknown, path: string): boolean {
  if (typeof value !== 'boolean') throw new ShapeError(path, 'true or false', describeValue(value));
  return value;
}

export function readInteger(value: unknown, path: string, min: number, max = Number.MAX_SAFE_INTEGER): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    const bound = max === Number.MAX_SAFE_INTEGER ? `>= ${min}` : `in [${min}, ${max}]`;
    throw new ShapeError(path, `an integer ${bound}`, describeValue(value));
  }
  return value;
}

export function readEnum<T extends string>(value: unknown, path: string, values: readonly T[]): T {
  if (typeof value !== 'string' || !(values as readonly string[]).includes(value)) {
    throw new ShapeError(path, `one of ${values.join(', ')}`, describeValue(value));
  }
  return value as T;
}

export function readList<T>(value: unknown, path: string, item: (v: unknown, p: string) => T): readonly T[] {
  if (!Array.isArray(value)) throw new ShapeError(path, 'a list', describeValue(value));
  return Object.freeze(value.map((v, i) => item(v, child(path, i))));
}

export function readNullable<T>(value: unknown, path: string, read: (v: unknown, p: string) => T): T | null {
  return value === null ? null : read(value, path);
}

const C_IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** A name used verbatim in the generated C (ARCHITECTURE.md "C identifiers"). */
export function readIdentifier(value: unknown, path: string): string {
  if (typeof value !== 'string' || !C_IDENTIFIER.test(value) || RESERVED_IDENTIFIERS.has(value)) {
    throw new ShapeError(path, 'a C identifier (not a keyword)', describeValue(value));
  }
  return value;
}
