/**
 * Kernel versions and version ranges of the spec (`>=6.8 <7.0`, `=6.18`, `*`), and the kernel feature row
 * that applies to a version.
 */
import { KptrError } from '../errors/KptrError.ts';
import type { KernelFeatures, Spec, VersionRange } from '../types/index.ts';

/**
 * Numeric `major.minor.patch` of a `uname -r` release: `6.12.117+deb13-cloud-amd64` → `6.12.117`,
 * `6.1.0-56-cloud-amd64` → `6.1.0` (Debian's ABI name: really 6.1.192, but only major.minor decides features).
 * A release without a patch level gets `.0`.
 */
export function parseKernelVersion(release: string): string {
  const m = /^(\d+)\.(\d+)(?:\.(\d+))?/.exec(release);
  if (m === null) {
    throw new KptrError('KPTR_USAGE', `cannot read a kernel version from release '${release}'`, 'pass a release that starts with major.minor, like 6.18.44 or the output of uname -r');
  }
  return `${Number(m[1])}.${Number(m[2])}.${Number(m[3] ?? 0)}`;
}

const VERSION = /^\d+(\.\d+){0,2}$/;

function components(version: string): number[] {
  return version.split('.').map(Number);
}

/** Compares dotted versions numerically; a missing component counts as 0 (`6.8` equals `6.8.0`). Returns -1, 0 or 1. */
export function compareVersions(a: string, b: string): number {
  const x = components(a);
  const y = components(b);
  for (let i = 0; i < Math.max(x.length, y.length); i++) {
    const d = (x[i] ?? 0) - (y[i] ?? 0);
    if (d !== 0) return d < 0 ? -1 : 1;
  }
  return 0;
}

type Operator = '>=' | '<=' | '>' | '<' | '=';

/** One comparator of a range: `>=6.8` is `{ op: '>=', version: '6.8' }`. */
export interface Comparator {
  readonly op: Operator;
  readonly version: string;
}

/**
 * Parses a range into its comparators (`*` is none: every version matches). Throws an Error naming the bad part;
 * callers that read files wrap it with the file and YAML path.
 */
export function parseVersionRange(range: VersionRange): readonly Comparator[] {
  const text = range.trim();
  if (text === '*') return [];
  if (text === '') throw new Error(`empty version range (use '*' for every kernel)`);
  return text.split(/\s+/).map((part) => {
    const m = /^(>=|<=|>|<|=)(.*)$/.exec(part);
    if (m === null || !VERSION.test(m[2] ?? '')) {
      throw new Error(`'${part}' is not a comparator like >=6.8, <7.0 or =6.18`);
    }
    return { op: m[1] as Operator, version: m[2] as string };
  });
}

/**
 * Whether `version` satisfies every comparator of `range`. A comparator compares only as many components as it
 * names: `=6.18` holds for 6.18.44, `<7.0` fails for 7.0.5, `>=6.8` holds for 6.8.0.
 */
export function versionInRange(version: string, range: VersionRange): boolean {
  const key = `${version} ${range}`;
  let hit = inRangeMemo.get(key);
  if (hit === undefined) inRangeMemo.set(key, (hit = computeInRange(version, range)));
  return hit;
}

/** versionInRange's answers: predict asks the same few (version, range) pairs for every case */
const inRangeMemo = new Map<string, boolean>();

function computeInRange(version: string, range: VersionRange): boolean {
  const have = components(version);
  return parseVersionRange(range).every(({ op, version: bound }) => {
    const want = components(bound);
    const d = compareVersions(have.slice(0, want.length).join('.'), bound);
    switch (op) {
      case '>=': return d >= 0;
      case '<=': return d <= 0;
      case '>': return d > 0;
      case '<': return d < 0;
      case '=': return d === 0;
    }
  });
}

/**
 * The feature row of specs/kernels.yaml for a kernel: the row with the greatest `major.minor` not above the
 * kernel's. A kernel older than every row is a usage error (the matrix says nothing about it).
 */
export function kernelFeatures(spec: Spec, version: string): KernelFeatures {
  let byVersion = featuresMemo.get(spec);
  if (byVersion === undefined) featuresMemo.set(spec, (byVersion = new Map()));
  let row = byVersion.get(version);
  if (row === undefined) byVersion.set(version, (row = featureRow(spec, version)));
  return row;
}

/** kernelFeatures' rows per spec and version (predict asks once per case) */
const featuresMemo = new WeakMap<Spec, Map<string, KernelFeatures>>();

function featureRow(spec: Spec, version: string): KernelFeatures {
  const [major, minor] = components(version);
  const majorMinor = `${major ?? 0}.${minor ?? 0}`;
  let best: KernelFeatures | null = null;
  for (const row of spec.kernels) {
    if (compareVersions(row.version, majorMinor) <= 0 && (best === null || compareVersions(row.version, best.version) > 0)) best = row;
  }
  if (best === null) {
    const oldest = spec.kernels.map((r) => r.version).sort(compareVersions)[0] ?? 'none';
    throw new KptrError('KPTR_USAGE', `kernel ${version} is older than every row of specs/kernels.yaml (oldest: ${oldest})`, 'test a kernel the matrix covers, or add a row for this version to specs/kernels.yaml');
  }
  return best;
}
