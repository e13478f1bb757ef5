import { fileURLToPath } from 'node:url';
import { KptrError } from '../errors/KptrError.ts';
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
}

/** The options resolved once, every field filled; nothing further down re-reads argv or process.env. */
export interface RunConfig {
  readonly runner: RunnerName;
  /** kernel names or image paths for the vm runner; ['host'] for the host runner; profile names for the emulator */
  readonly kernels: readonly string[];
  readonly runs: number;
  readonly seed: number;
  readonly outDir: string;
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
  const kernelList = opts.kernels ?? opts.kernel;
  if (runner === 'vm' && !kernelList) throw usage('--runner vm needs --kernel <6.1|6.12|6.18|7.3|latest|PATH>', 'add e.g. --kernel 6.12');
  const kernels = runner === 'host' ? ['host']
    : runner === 'emulator' && !kernelList ? [DEFAULT_EMULATOR_KERNEL]
    : kernelList!.split(',').map((k) => k.trim()).filter(Boolean);
  if (runner === 'emulator') for (const k of kernels) oneOf(k, PROFILE_NAMES, '--kernel');
  const formats = (opts.format ?? ctx.formatNames.join(',')).split(',').map((f) => f.trim()).filter(Boolean);
  for (const f of formats) oneOf(f, ctx.formatNames, '--format');
  const progTypes = (opts.progTypes ?? PROG_TYPES.join(',')).split(',').map((t) => oneOf(t.trim(), PROG_TYPES, '--prog-types'));
  const seed = opts.seed === undefined ? ctx.randomSeed : positiveInt(opts.seed, '--seed', 0);
  const outDir = opts.out ?? `${ctx.cwd}/kptr-out-${ctx.command}-${timestamp(ctx.now)}`;
  return {
    runner,
    kernels,
    runs: positiveInt(opts.runs, '--runs', 200),
    seed,
    outDir,
    formats,
    mode: oneOf(opts.mode ?? 'mixed', MODES, '--mode'),
    progTypes,
    corpusDir: opts.corpus ?? `${ctx.repoRoot}/specs/regressions`,
    saveFindings: opts.saveFindings ?? false,
    // only a campaign shrinks (selftests and replay report cases as they are)
    shrink: ctx.command === 'run' && (opts.shrink ?? true),
    lanes: opts.lanes === undefined ? null : lanesOf(opts.lanes),
    codegen: oneOf(opts.codegen ?? (ctx.command === 'run' ? 'direct' : 'clang'), CODEGENS, '--codegen'),
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
    randomSeed: Math.floor(Math.random() * 0x7fffffff),
    formatNames: Object.keys(reporters),
    cwd: process.cwd(),
    repoRoot: fileURLToPath(new URL('..', import.meta.url)).replace(/\/$/, ''),
  });
}
