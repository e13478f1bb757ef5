/**
 * Per-kernel verifier profiles (specs/profiles/<kernel>.yaml): the words, errno and kernel function of every error
 * site the model reaches, the kfuncs the kernel has, and its features and known bugs as flags. A profile may extend
 * another and list only what differs.
 */
import { readFileSync } from 'node:fs';
import { constants } from 'node:os';
import { join } from 'node:path';
import { parse } from 'yaml';
import { KptrError } from '../../errors/KptrError.ts';
import { SPEC_DIR } from '../../specs/load.ts';
import { ShapeError, child, readBoolean, readInteger, readList, readMatching, readNullable, readObject, readString } from '../../specs/shape.ts';

export const PROFILE_NAMES = ['6.1', '6.12', '6.18', '6.18.44', '6.18.44-v1045', '7.3'] as const;
export type ProfileName = (typeof PROFILE_NAMES)[number];

export interface ProfileFeatures {
  readonly percpu_kptr: boolean;
  readonly elide_value_nullness: boolean;
  readonly exit_checks_leak_first: boolean;
  readonly nested_rcu_lock: boolean;
  readonly reject_plain_into_percpu: boolean;
  readonly unlock_keeps_implicit_rcu: boolean;
  readonly untrusted_alloc_write_bug: boolean;
  readonly sleepable_fentry_test1: boolean;
  readonly percpu_obj_size_limit: number;
}

const FEATURE_KEYS: readonly (keyof ProfileFeatures)[] = [
  'percpu_kptr', 'elide_value_nullness', 'exit_checks_leak_first', 'nested_rcu_lock', 'reject_plain_into_percpu',
  'unlock_keeps_implicit_rcu', 'untrusted_alloc_write_bug', 'sleepable_fentry_test1', 'percpu_obj_size_limit',
];

export interface SiteMessage {
  /** the kernel (or libbpf) function that prints it */
  readonly fn: string;
  readonly errno: string;
  readonly errnoNumber: number;
  readonly stage: 'verifier' | 'libbpf';
  /** `${param}` placeholders */
  readonly lines: readonly string[];
  /** 7.3's 'Verification failed: <report>' line, printed after the first line */
  readonly report: string | null;
}

export interface Profile {
  readonly kernel: string;
  readonly release: string;
  readonly kfuncs: readonly string[];
  readonly features: ProfileFeatures;
  /** null: the site prints nothing on this kernel */
  readonly messages: Readonly<Record<string, SiteMessage | null>>;
}

interface RawProfile {
  kernel: string;
  release: string;
  extends: string | null;
  kfuncs: readonly string[] | null;
  features: Partial<ProfileFeatures>;
  messages: Record<string, SiteMessage | null>;
}

function readSite(v: unknown, path: string): SiteMessage | null {
  if (v === null) return null;
  const o = readObject(v, path, ['fn', 'errno', 'stage', 'lines', 'report']);
  const errno = readMatching(o.errno, child(path, 'errno'), /^E[A-Z0-9]+$/, 'a symbolic errno like EACCES');
  const errnoNumber = (constants.errno as Record<string, number>)[errno];
  if (errnoNumber === undefined) throw new ShapeError(child(path, 'errno'), 'an errno name Node knows', errno);
  return {
    fn: readString(o.fn, child(path, 'fn')),
    errno,
    errnoNumber,
    stage: o.stage === undefined ? 'verifier' : o.stage === 'libbpf' ? 'libbpf' : (() => { throw new ShapeError(child(path, 'stage'), 'libbpf', String(o.stage)); })(),
    lines: readList(o.lines, child(path, 'lines'), readString),
    report: o.report === undefined ? null : readNullable(o.report, child(path, 'report'), readString),
  };
}

function readRaw(v: unknown): RawProfile {
  const o = readObject(v, '', ['kernel', 'release', 'extends', 'kfuncs', 'features', 'messages']);
  const f = o.features === undefined ? {} : readObject(o.features, 'features', FEATURE_KEYS);
  const features: Record<string, boolean | number> = {};
  for (const [k, val] of Object.entries(f)) {
    features[k] = k === 'percpu_obj_size_limit' ? readInteger(val, child('features', k), 0) : readBoolean(val, child('features', k));
  }
  const messages: Record<string, SiteMessage | null> = {};
  const m = o.messages === undefined ? {} : readObject(o.messages, 'messages', Object.keys(o.messages as object));
  for (const [k, val] of Object.entries(m)) messages[k] = readSite(val, child('messages', k));
  return {
    kernel: readString(o.kernel, 'kernel'),
    release: readString(o.release, 'release'),
    extends: readNullable(o.extends, 'extends', readString),
    kfuncs: o.kfuncs === undefined ? null : readList(o.kfuncs, 'kfuncs', readString),
    features: features as Partial<ProfileFeatures>,
    messages,
  };
}

const cache = new Map<string, Profile>();

/** The profile of one kernel, its `extends` chain merged. */
export function loadProfile(name: string, dir = join(SPEC_DIR, 'profiles')): Profile {
  const key = `${dir}\0${name}`;
  const hit = cache.get(key);
  if (hit !== undefined) return hit;
  const file = join(dir, `${name}.yaml`);
  let raw: RawProfile;
  try {
    raw = readRaw(parse(readFileSync(file, 'utf8')));
  } catch (cause) {
    const what = cause instanceof ShapeError || cause instanceof Error ? cause.message : String(cause);
    throw new KptrError('KPTR_SPEC_INVALID', `${file}: ${what}`, 'fix the profile so it matches emulator/verifier/profile.ts (specs/profiles/6.18.yaml is the full example)', { cause });
  }
  const base = raw.extends === null ? null : loadProfile(raw.extends, dir);
  const features = { ...(base?.features ?? {}), ...raw.features } as ProfileFeatures;
  const missing = FEATURE_KEYS.filter((k) => features[k] === undefined);
  if (missing.length > 0) {
    throw new KptrError('KPTR_SPEC_INVALID', `${file}: features ${missing.join(', ')} not set`, 'set them here or in the profile it extends');
  }
  const profile: Profile = {
    kernel: raw.kernel,
    release: raw.release,
    kfuncs: raw.kfuncs ?? base?.kfuncs ?? [],
    features,
    messages: { ...(base?.messages ?? {}), ...raw.messages },
  };
  cache.set(key, profile);
  return profile;
}

/**
 * The profile that models a running kernel: the one measured on exactly this release, else the newest profile of the
 * same major.minor at or below its version; null when none fits (a kernel the emulator has no profile for).
 */
export function profileForRelease(release: string, dir = join(SPEC_DIR, 'profiles')): ProfileName | null {
  const profiles = PROFILE_NAMES.map((n) => ({ name: n, p: loadProfile(n, dir) }));
  const exact = profiles.find((x) => x.p.release === release);
  if (exact !== undefined) return exact.name;
  const m = /^(\d+)\.(\d+)(?:\.(\d+))?/.exec(release);
  if (m === null) return null;
  const [major, minor, patch] = [Number(m[1]), Number(m[2]), Number(m[3] ?? 0)];
  const same = profiles
    .map((x) => ({ ...x, v: /^(\d+)\.(\d+)\.?(\d+)?/.exec(x.p.release)! }))
    .filter((x) => Number(x.v[1]) === major && Number(x.v[2]) === minor && Number(x.v[3] ?? 0) <= patch)
    .sort((a, b) => Number(b.v[3] ?? 0) - Number(a.v[3] ?? 0));
  return same[0]?.name ?? null;
}

/** Fills `${name}` placeholders. */
export function fillLine(line: string, params: Readonly<Record<string, string | number>>): string {
  return line.replace(/\$\{(\w+)\}/g, (_, k: string) => {
    const v = params[k];
    if (v === undefined) throw new Error(`message parameter ${k} missing`);
    return String(v);
  });
}
