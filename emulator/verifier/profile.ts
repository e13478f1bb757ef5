/**
 * Per-kernel verifier profiles (specs/profiles/<kernel>.yaml): the words, errno and kernel function of every error
 * site the model reaches, the kfuncs the kernel has, and its features and known bugs as flags. A profile may extend
 * another and list only what differs.
 */
import { constants } from 'node:os';
import { join } from 'node:path';
import { KptrError } from '../../errors/KptrError.ts';
import { readSpecFile, SPEC_DIR } from '../../specs/load.ts';

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
  readonly rcu_alloc_xchg_bug: boolean;
  readonly maybe_null_percpu_xchg_bug: boolean;
  readonly maybe_null_obj_xchg_bug: boolean;
  readonly untrusted_alloc_read_bug: boolean;
  /** run time, not verification: read by the machine's maps (MachineOptions.htabDeleteKeepsKptr) */
  readonly htab_delete_keeps_percpu_kptr: boolean;
  /** run time: read by the machine's maps (MachineOptions.arrayUpdateKeepsKptr) */
  readonly array_update_keeps_percpu_kptr: boolean;
  readonly sleepable_fentry_test1: boolean;
  /** bpf_task_storage_get is in bpf_base_func_proto, so tc programs have it (local_storage.prog_type) */
  readonly task_storage_in_tc: boolean;
  readonly percpu_obj_size_limit: number;
}

const FEATURE_KEYS: readonly (keyof ProfileFeatures)[] = [
  'percpu_kptr', 'elide_value_nullness', 'exit_checks_leak_first', 'nested_rcu_lock', 'reject_plain_into_percpu',
  'unlock_keeps_implicit_rcu', 'untrusted_alloc_write_bug', 'rcu_alloc_xchg_bug', 'maybe_null_percpu_xchg_bug', 'maybe_null_obj_xchg_bug', 'untrusted_alloc_read_bug', 'htab_delete_keeps_percpu_kptr', 'array_update_keeps_percpu_kptr', 'sleepable_fentry_test1', 'task_storage_in_tc', 'percpu_obj_size_limit',
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

/** A profile file as specs/schema/profile.schema.json describes it. */
interface ProfileFile {
  readonly kernel: string;
  readonly release: string;
  readonly extends: string | null;
  readonly kfuncs?: readonly string[];
  readonly features?: Partial<ProfileFeatures>;
  readonly messages?: Readonly<Record<string, SiteFile | null>>;
}

interface SiteFile {
  readonly fn: string;
  readonly errno: string;
  readonly stage?: 'verifier' | 'libbpf';
  readonly lines: readonly string[];
  readonly report?: string | null;
}

function site(file: string, name: string, v: SiteFile | null): SiteMessage | null {
  if (v === null) return null;
  const errnoNumber = (constants.errno as Record<string, number>)[v.errno];
  if (errnoNumber === undefined) {
    throw new KptrError('KPTR_SPEC_INVALID', `${file}: messages.${name}.errno: expected an errno name Node knows, got '${v.errno}'`, 'use the name the kernel headers give (EACCES, EINVAL, ...)');
  }
  return { fn: v.fn, errno: v.errno, errnoNumber, stage: v.stage ?? 'verifier', lines: v.lines, report: v.report ?? null };
}

const cache = new Map<string, Profile>();

/** The profile of one kernel, its `extends` chain merged. */
export function loadProfile(name: string, dir = join(SPEC_DIR, 'profiles')): Profile {
  const key = `${dir}\0${name}`;
  const hit = cache.get(key);
  if (hit !== undefined) return hit;
  const file = join(dir, `${name}.yaml`);
  const raw = readSpecFile<ProfileFile>(file, 'profile');
  const messages = Object.fromEntries(Object.entries(raw.messages ?? {}).map(([k, v]) => [k, site(file, k, v)]));
  const base = raw.extends === null ? null : loadProfile(raw.extends, dir);
  const features = { ...(base?.features ?? {}), ...(raw.features ?? {}) } as ProfileFeatures;
  const missing = FEATURE_KEYS.filter((k) => features[k] === undefined);
  if (missing.length > 0) {
    throw new KptrError('KPTR_SPEC_INVALID', `${file}: features ${missing.join(', ')} not set`, 'set them here or in the profile it extends');
  }
  const profile: Profile = {
    kernel: raw.kernel,
    release: raw.release,
    kfuncs: raw.kfuncs ?? base?.kfuncs ?? [],
    features,
    messages: { ...(base?.messages ?? {}), ...messages },
  };
  cache.set(key, profile);
  return profile;
}

/**
 * The profile that models a running kernel: the one measured on exactly this release, else the newest profile of the
 * same major.minor at or below its version; of several measured on that version, the latest build at or below this
 * one (releases compared with their digit runs as numbers: a later build keeps the backports an earlier one had, so
 * 6.18.44-fc-v1252 takes fc-v1045's profile, not fc-v669's), else the first of them (a build of another flavour).
 * Null when none fits (a kernel the emulator has no profile for).
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
  const newest = same.filter((x) => x.v[3] === same[0]?.v[3]);
  const builds = newest.filter((x) => compareReleases(x.p.release, release) <= 0).sort((a, b) => compareReleases(b.p.release, a.p.release));
  return (builds[0] ?? newest[0])?.name ?? null;
}

/** Order of two release strings: runs of digits compared as numbers, the text between them as text. */
export function compareReleases(a: string, b: string): number {
  const [x, y] = [a.split(/(\d+)/), b.split(/(\d+)/)];
  for (let i = 0; i < Math.min(x.length, y.length); i++) {
    const d = i % 2 === 1 ? Number(x[i]) - Number(y[i]) : x[i]! < y[i]! ? -1 : x[i]! > y[i]! ? 1 : 0;
    if (d !== 0) return d;
  }
  return x.length - y.length;
}

/**
 * A profile with some boolean features set otherwise: how a probed kernel is modelled, when its probes show a known
 * divergence present or fixed whatever its version string says (a backport keeps the version).
 * @throws KptrError KPTR_SPEC_INVALID for a name that is not a boolean feature
 */
export function withFeatures(profile: Profile, features: Readonly<Record<string, boolean>>): Profile {
  const names = Object.keys(features);
  if (names.length === 0) return profile;
  const unknown = names.find((n) => typeof profile.features[n as keyof ProfileFeatures] !== 'boolean');
  if (unknown !== undefined) {
    throw new KptrError('KPTR_SPEC_INVALID', `emulatorFeature '${unknown}' is not a boolean feature of the emulator's profiles`, `use one of ${FEATURE_KEYS.join(', ')}`);
  }
  return { ...profile, features: { ...profile.features, ...features } };
}

/** each message line split at its placeholders: text, name, text, ..., text (split once, filled at every rejection) */
const lineParts = new Map<string, readonly string[]>();

/** Fills `${name}` placeholders. */
export function fillLine(line: string, params: Readonly<Record<string, string | number>>): string {
  let parts = lineParts.get(line);
  if (parts === undefined) lineParts.set(line, (parts = line.split(/\$\{(\w+)\}/)));
  let out = parts[0]!;
  for (let k = 1; k < parts.length; k += 2) {
    const v = params[parts[k]!];
    if (v === undefined) throw new Error(`message parameter ${parts[k]} missing`);
    out += String(v) + parts[k + 1]!;
  }
  return out;
}
