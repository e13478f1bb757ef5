/**
 * How a value that does not have the expected shape is reported: located by its YAML path, saying what was expected
 * and what was found. matchSchema throws it; parseScenario and the spec loader turn it into one KptrError line.
 */

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
