import { fileURLToPath } from 'node:url';
import { KptrError } from '../errors/KptrError.ts';
import { REPLAY_CODEGEN } from '../reports/replayCommand.ts';
import { reporters } from '../reports/reporter.ts';
import { CODEGENS, type Codegen } from '../runners/buildObject.ts';
import type { ProgType, RunnerName } from '../types/index.ts';
import { PROFILE_NAMES } from '../emulator/verifier/profile.ts';
import { DEFAULT_EMULATOR_KERNEL } from '../runners/emulator/index.ts';

/** What the user typed, every field optional (commander's output). */
export interface CliOptions {
  readonly runner?: string;
  readonly kernel?: string;
  readonly kernels?: string;
  readonly runs?: string;
  readonly seed?: string;
  readonly out?: string;
  readonly format?: string;
  readonly mode?: string;
  readonly progTypes?: string;
  readonly corpus?: string;
  readonly saveFindings?: boolean;
  readonly shrink?: boolean;
  readonly quiet?: boolean;
  readonly json?: boolean;
  readonly filter?: string;
  readonly maxShrinks?: string;
  readonly lanes?: string;
  readonly codegen?: string;
  readonly force?: boolean;
}

/** The options resolved once, every field filled; nothing further down re-reads argv or process.env. */
export interface RunConfig {
  readonly runner: RunnerName;
  /** kernel names or image paths for the vm runner; ['host'] for the host runner; profile names for the emulator */
  readonly kernels: readonly string[];
  /** generated scenarios; 0 for commands that generate none (selftests, replay) */
  readonly runs: number;
  /** fast-check's seed: a 32-bit unsigned integer (reports/shrink.ts generateValues), given or drawn, never altered */
  readonly seed: number;
  readonly outDir: string;
  /** replace an earlier run's output in outDir (cli/preflight.ts); without it such an outDir is refused */
  readonly force: boolean;
  readonly formats: readonly string[];
  readonly mode: 'valid' | 'break' | 'mixed';
  readonly progTypes: readonly ProgType[];
  readonly corpusDir: string | null;
  readonly saveFindings: boolean;
  readonly shrink: boolean;
  readonly maxShrinks: number;
  readonly quiet: boolean;
  readonly json: boolean;
  readonly filter: string | null;
  readonly workDir: string;
  /** vm runner: guests side by side; null lets the runner choose (VmRunnerOptions.lanes) */
  readonly lanes: number | null;
  /**
   * how objects are made (runners/buildObject.ts). A campaign writes them directly, for speed, and checks every
   * mismatch again with clang before it shrinks it (with clang); selftests and replay compile the C a reproducer is.
   */
  readonly codegen: Codegen;
}

const RUNNERS: readonly RunnerName[] = ['host', 'vm', 'emulator'];
/** fast-check seeds are 32-bit (pure-rand's xoroshiro128plus keeps `seed | 0`): a larger one would alias a smaller one */
export const MAX_SEED = 0xffffffff;
const PROG_TYPES: readonly ProgType[] = ['tc', 'syscall', 'fentry', 'fentry.s'];
const MODES = ['valid', 'break', 'mixed'] as const;

function usage(message: string, hint: string): KptrError {
  return new KptrError('KPTR_USAGE', message, hint);
}

function positiveInt(raw: string | undefined, name: string, fallback: number): number {
  if (raw === undefined) return fallback;
  if (!/^\d+$/.test(raw)) throw usage(`${name} must be a non-negative integer, got '${raw}'`, `pass e.g. ${name} ${fallback}`);
  return Number(raw);
}

function seedOf(raw: string): number {
  if (!/^\d+$/.test(raw) || Number(raw) > MAX_SEED) {
    throw usage(`--seed must be an integer from 0 to ${MAX_SEED} (a 32-bit fast-check seed), got '${raw}'`, 'pass e.g. --seed 42, or leave it out for a random one');
  }
  return Number(raw);
}

/**
 * The kernels a run covers: ['host'] for the host runner, which takes no kernel option; for the vm runner the names
 * or image paths of --kernel or --kernels, each non-empty and named once (cli/preflight.ts checks that they exist).
 */
function kernelsOf(runner: RunnerName, opts: CliOptions): string[] {
  const given = opts.kernels !== undefined ? '--kernels' : opts.kernel !== undefined ? '--kernel' : null;
  if (runner === 'host') {
    if (given) throw usage(`${given} applies to the vm runner only; the host runner tests the running kernel`, `drop ${given}, or add --runner vm`);
    return ['host'];
  }
  if (opts.kernels !== undefined && opts.kernel !== undefined) throw usage('--kernel and --kernels both given', 'pass the kernels once: --kernels 6.12,6.18');
  if (given === null && runner === 'emulator') return [DEFAULT_EMULATOR_KERNEL];
  if (given === null) throw usage('--runner vm needs --kernel <6.1|6.12|6.18|7.3|latest|PATH>', 'add e.g. --kernel 6.12');
  const raw = (opts.kernels ?? opts.kernel)!;
  const names = raw.split(',').map((k) => k.trim());
  if (names.some((k) => k === '')) throw usage(`${given} '${raw}' has an empty kernel name`, 'name each kernel: --kernels 6.12,6.18');
  const twice = names.find((k, i) => names.indexOf(k) !== i);
  if (twice !== undefined) throw usage(`${given} names ${twice} twice`, 'name each kernel once');
  // the emulator models kernels by profile (specs/profiles/), not by image
  if (runner === 'emulator') for (const k of names) oneOf(k, PROFILE_NAMES, given!);
  return names;
}

function lanesOf(raw: string): number {
  const n = positiveInt(raw, '--lanes', 2);
  if (n < 1) throw usage('--lanes must be at least 1', 'pass e.g. --lanes 2');
  return n;
}

function oneOf<T extends string>(raw: string, allowed: readonly T[], name: string): T {
  if ((allowed as readonly string[]).includes(raw)) return raw as T;
  throw usage(`${name} '${raw}' is not one of ${allowed.join(', ')}`, `choose one of: ${allowed.join(', ')}`);
}

function timestamp(now: Date): string {
  return now.toISOString().replace(/[:.]/g, '-').replace(/Z$/, '');
}

/**
 * Resolves CLI options into a RunConfig. `now` and `randomSeed` are passed in so this stays pure.
 * @param formatNames the reporter registry's keys (the only accepted --format values)
 */
export function resolveConfig(
  opts: CliOptions,
  ctx: { readonly command: string; readonly now: Date; readonly randomSeed: number; readonly formatNames: readonly string[]; readonly cwd: string; readonly repoRoot: string },
): RunConfig {
  const runner = oneOf(opts.runner ?? 'host', RUNNERS, '--runner');
  const kernels = kernelsOf(runner, opts);
  if (runner === 'host' && opts.lanes !== undefined) throw usage('--lanes applies to the vm runner only', 'drop --lanes, or add --runner vm');
  if (opts.out === '') throw usage('--out is empty', 'pass a directory, e.g. --out ./kptr-out');
  const formats = (opts.format ?? ctx.formatNames.join(',')).split(',').map((f) => f.trim()).filter(Boolean);
  for (const f of formats) oneOf(f, ctx.formatNames, '--format');
  const progTypes = (opts.progTypes ?? PROG_TYPES.join(',')).split(',').map((t) => oneOf(t.trim(), PROG_TYPES, '--prog-types'));
  const seed = opts.seed === undefined ? ctx.randomSeed : seedOf(opts.seed);
  const outDir = opts.out ?? `${ctx.cwd}/kptr-out-${ctx.command}-${timestamp(ctx.now)}`;
  return {
    runner,
    kernels,
    runs: ctx.command === 'run' ? positiveInt(opts.runs, '--runs', 200) : 0,
    seed,
    outDir,
    force: opts.force ?? false,
    formats,
    mode: oneOf(opts.mode ?? 'mixed', MODES, '--mode'),
    progTypes,
    corpusDir: opts.corpus ?? `${ctx.repoRoot}/specs/regressions`,
    saveFindings: opts.saveFindings ?? false,
    // only a campaign shrinks (selftests and replay report cases as they are)
    shrink: ctx.command === 'run' && (opts.shrink ?? true),
    lanes: opts.lanes === undefined ? null : lanesOf(opts.lanes),
    codegen: oneOf(opts.codegen ?? (ctx.command === 'run' ? 'direct' : REPLAY_CODEGEN), CODEGENS, '--codegen'),
    maxShrinks: positiveInt(opts.maxShrinks, '--max-shrinks', 200),
    quiet: opts.quiet ?? false,
    json: opts.json ?? false,
    filter: opts.filter ?? null,
    workDir: `${outDir}/.work`,
  };
}

/** The CLI edge: fills the context (clock, a random seed, the reporter names, paths) and resolves the options. */
export function resolveFromArgv(command: string, opts: CliOptions): RunConfig {
  return resolveConfig(opts, {
    command,
    now: new Date(),
    randomSeed: Math.floor(Math.random() * (MAX_SEED + 1)),
    formatNames: Object.keys(reporters),
    cwd: process.cwd(),
    repoRoot: fileURLToPath(new URL('..', import.meta.url)).replace(/\/$/, ''),
  });
}
