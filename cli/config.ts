import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { KptrError } from '../errors/KptrError.ts';
import { REPLAY_CODEGEN } from '../reports/replayCommand.ts';
import { reporters } from '../reports/reporter.ts';
import { CODEGENS, type Codegen } from '../compile/buildObject.ts';
import { probeHost } from '../runners/host/probe.ts';
import type { ProgType, RunnerCapabilities, RunnerName } from '../types/index.ts';
import { PROFILE_NAMES, profileForRelease, type ProfileName } from '../emulator/verifier/profile.ts';
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
  readonly shrinksPerBug?: string;
  readonly lanes?: string;
  readonly codegen?: string;
  readonly force?: boolean;
  readonly withEmulator?: boolean;
  readonly duration?: string;
  readonly untilBugs?: string;
  readonly shard?: string;
  readonly resume?: string;
  readonly segment?: string;
}

/** `--shard k/n`: this process runs the cases of the seed's stream whose index i has i mod n = k - 1 (k from 1). */
export interface Shard {
  readonly k: number;
  readonly n: number;
}

/** The options resolved once, every field filled; nothing further down re-reads argv or process.env. */
export interface RunConfig {
  readonly runner: RunnerName;
  /** kernel names or image paths for the vm runner; ['host'] for the host runner; profile names for the emulator */
  readonly kernels: readonly string[];
  /** generated scenarios; 0 for commands that generate none (selftests, replay); Infinity: until --duration is up */
  readonly runs: number;
  /** --duration: stop generating once this much time has passed (then finish and write everything); null: no budget */
  readonly durationMs: number | null;
  /** --until-bugs: stop generating once this many findings are known (cli/campaignBudget.ts bugCount); null: no limit */
  readonly untilBugs: number | null;
  /**
   * --segment: scenarios generated and checked per runner call, a checkpoint after each. Only a segment's scenarios
   * are in memory at a time (results stream to the files as they come, the summary keeps counts), so memory is flat
   * in --runs. Each boundary drains the runner's pipeline (the host compiles ahead, the vm boots once per segment),
   * so segments are large.
   */
  readonly segment: number;
  /** --shard: the part of the seed's case stream this process runs; null: all of it */
  readonly shard: Shard | null;
  /** fast-check's seed: a 32-bit unsigned integer (campaign/shrink.ts valueAt), given or drawn, never altered */
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
  /** failing cases shrunk (each a finding directory) per bug signature: the first ones seen; the others are listed */
  readonly shrinksPerBug: number;
  readonly quiet: boolean;
  readonly json: boolean;
  readonly filter: string | null;
  readonly workDir: string;
  /** vm runner: guests side by side; null lets the runner choose (VmRunnerOptions.lanes) */
  readonly lanes: number | null;
  /**
   * how objects are made (compile/buildObject.ts). A campaign writes them directly, for speed, and checks every
   * mismatch again with clang before it shrinks it (with clang); selftests and replay compile the C a reproducer is.
   */
  readonly codegen: Codegen;
  /** why this runner, when --runner was not given (defaultRunner); null when it was */
  readonly runnerChosen: string | null;
  /** run: every case also on the emulator with the profile of the kernel, compared three ways (host and vm runners) */
  readonly withEmulator: boolean;
}

/** What the CLI edge learned about this machine, for the runner a command takes when --runner is not given. */
export interface MachineProbe {
  /** runners/host/probe.ts probeHost */
  readonly host: RunnerCapabilities;
  /** the emulator profile that models the running kernel (profileForRelease); null when none does */
  readonly profile: ProfileName | null;
}

/** The runner (and its kernel) a command takes when --runner is not given, and why, in one line. */
export interface RunnerChoice {
  readonly runner: 'host' | 'emulator';
  readonly kernel: string;
  readonly why: string;
}

/** Why the host runner cannot run programs here, or null when it can (privileges, harness, and a program type that loads). */
export function hostUnavailable(host: RunnerCapabilities): string | null {
  if (host.problems.length > 0) return host.problems.join('; ');
  if (host.kernel === null) return 'no kernel information';
  const types = Object.values(host.progTypes);
  return types.some((r) => r.ok) ? null : types[0]?.reason ?? 'no program type loads';
}

/**
 * The default runner: the host, which tests the real kernel, when it works here; else the emulator with the profile
 * that models the running kernel (the default profile when none does), which needs no privileges.
 */
export function defaultRunner(machine: MachineProbe): RunnerChoice {
  const release = machine.host.kernel?.release ?? 'unknown';
  const unavailable = hostUnavailable(machine.host);
  if (unavailable === null) return { runner: 'host', kernel: 'host', why: `runner host: the host runner works here (kernel ${release})` };
  const profile = machine.profile ?? DEFAULT_EMULATOR_KERNEL;
  const models = machine.profile === null ? `the default: no profile models kernel ${release}` : `modelling this kernel, ${release}`;
  return {
    runner: 'emulator',
    kernel: profile,
    why: `runner emulator (profile ${profile}, ${models}): the host runner is unavailable: ${unavailable}`,
  };
}

const RUNNERS: readonly RunnerName[] = ['host', 'vm', 'emulator'];
/** fast-check seeds are 32-bit (pure-rand's xoroshiro128plus keeps `seed | 0`): a larger one would alias a smaller one */
export const MAX_SEED = 0xffffffff;
const PROG_TYPES: readonly ProgType[] = ['tc', 'syscall', 'fentry', 'fentry.s'];
const MODES = ['valid', 'break', 'mixed'] as const;
/** RunConfig.segment by default */
export const DEFAULT_SEGMENT = 2000;

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
function kernelsOf(runner: RunnerName, opts: CliOptions, emulatorDefault: string): string[] {
  const given = opts.kernels !== undefined ? '--kernels' : opts.kernel !== undefined ? '--kernel' : null;
  if (runner === 'host') {
    if (given) throw usage(`${given} applies to the vm runner only; the host runner tests the running kernel`, `drop ${given}, or add --runner vm`);
    return ['host'];
  }
  if (opts.kernels !== undefined && opts.kernel !== undefined) throw usage('--kernel and --kernels both given', 'pass the kernels once: --kernels 6.12,6.18');
  if (given === null && runner === 'emulator') return [emulatorDefault];
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

/** `--duration 90s | 30m | 2h` in milliseconds. */
export function durationOf(raw: string): number {
  const m = /^(\d+)(s|m|h)$/.exec(raw.trim());
  const n = m ? Number(m[1]) * { s: 1000, m: 60_000, h: 3_600_000 }[m[2] as 's' | 'm' | 'h'] : 0;
  if (n <= 0) throw usage(`--duration must be a positive number of seconds, minutes or hours (30s, 30m, 2h), got '${raw}'`, 'pass e.g. --duration 30m');
  return n;
}

/** `--shard k/n`, 1 <= k <= n (as vitest and playwright number shards). */
export function shardOf(raw: string): Shard {
  const m = /^(\d+)\/(\d+)$/.exec(raw.trim());
  const k = Number(m?.[1]);
  const n = Number(m?.[2]);
  if (!m || n < 1 || k < 1 || k > n) throw usage(`--shard must be k/n with 1 <= k <= n, got '${raw}'`, 'pass e.g. --shard 1/4 (a Kubernetes index i is shard i+1)');
  return { k, n };
}

function atLeastOne(raw: string, name: string): number {
  const n = positiveInt(raw, name, 2);
  if (n < 1) throw usage(`${name} must be at least 1`, `pass e.g. ${name} 2`);
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
 * Resolves CLI options into a RunConfig. `now`, `randomSeed` and `machine` are passed in so this stays pure.
 * @param formatNames the reporter registry's keys (the only accepted --format values)
 * @param machine what the edge probed for the default runner; needed only when --runner is not given
 */
export function resolveConfig(
  opts: CliOptions,
  ctx: {
    readonly command: string; readonly now: Date; readonly randomSeed: number; readonly formatNames: readonly string[]; readonly cwd: string; readonly repoRoot: string;
    readonly machine?: MachineProbe;
  },
): RunConfig {
  let chosen: RunnerChoice | null = null;
  if (opts.runner === undefined) {
    if (ctx.machine === undefined) throw new Error('resolveConfig: no --runner and no machine probe to choose one by');
    chosen = defaultRunner(ctx.machine);
    // what a kernel option means depends on the runner, and the runner chosen depends on the machine
    const kernelOption = opts.kernels !== undefined ? '--kernels' : opts.kernel !== undefined ? '--kernel' : opts.lanes !== undefined ? '--lanes' : null;
    if (kernelOption !== null) {
      throw usage(`${kernelOption} needs --runner: without it the runner depends on the machine (here ${chosen.runner})`, `add --runner vm or --runner emulator`);
    }
  }
  const runner = chosen?.runner ?? oneOf(opts.runner!, RUNNERS, '--runner');
  const kernels = kernelsOf(runner, opts, chosen?.kernel ?? DEFAULT_EMULATOR_KERNEL);
  if (opts.withEmulator && runner === 'emulator') throw usage('--with-emulator compares a kernel with the emulator; the runner here is the emulator', 'add --runner host or --runner vm');
  if (runner === 'host' && opts.lanes !== undefined) throw usage('--lanes applies to the vm runner only', 'drop --lanes, or add --runner vm');
  if (opts.out === '') throw usage('--out is empty', 'pass a directory, e.g. --out ./kptr-out');
  const formats = (opts.format ?? ctx.formatNames.join(',')).split(',').map((f) => f.trim()).filter(Boolean);
  for (const f of formats) oneOf(f, ctx.formatNames, '--format');
  const progTypes = (opts.progTypes ?? PROG_TYPES.join(',')).split(',').map((t) => oneOf(t.trim(), PROG_TYPES, '--prog-types'));
  const seed = opts.seed === undefined ? ctx.randomSeed : seedOf(opts.seed);
  // absolute: the VM runner builds its initramfs from inside another directory
  const outDir = opts.out === undefined ? `${ctx.cwd}/kptr-out-${ctx.command}-${timestamp(ctx.now)}` : resolve(ctx.cwd, opts.out);
  return {
    runner,
    kernels,
    // a time budget without --runs generates until the time is up
    runs: ctx.command !== 'run' ? 0 : opts.runs === undefined && opts.duration !== undefined ? Infinity : positiveInt(opts.runs, '--runs', 200),
    durationMs: opts.duration === undefined ? null : durationOf(opts.duration),
    untilBugs: opts.untilBugs === undefined ? null : atLeastOne(opts.untilBugs, '--until-bugs'),
    shard: opts.shard === undefined ? null : shardOf(opts.shard),
    segment: opts.segment === undefined ? DEFAULT_SEGMENT : atLeastOne(opts.segment, '--segment'),
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
    lanes: opts.lanes === undefined ? null : atLeastOne(opts.lanes, '--lanes'),
    codegen: oneOf(opts.codegen ?? (ctx.command === 'run' ? 'direct' : REPLAY_CODEGEN), CODEGENS, '--codegen'),
    maxShrinks: positiveInt(opts.maxShrinks, '--max-shrinks', 200),
    shrinksPerBug: positiveInt(opts.shrinksPerBug, '--shrinks-per-bug', 1),
    quiet: opts.quiet ?? false,
    json: opts.json ?? false,
    filter: opts.filter ?? null,
    workDir: `${outDir}/.work`,
    runnerChosen: chosen?.why ?? null,
    withEmulator: opts.withEmulator ?? false,
  };
}

/** The edge's probe for the default runner: the host runner's (cached per kernel release) and the profile of this kernel. */
export async function probeMachine(): Promise<MachineProbe> {
  const host = await probeHost();
  return { host, profile: host.kernel === null ? null : profileForRelease(host.kernel.release) };
}

/** The CLI edge: fills the context (clock, a random seed, the reporter names, paths, without --runner the machine probe) and resolves the options. */
export async function resolveFromArgv(command: string, opts: CliOptions): Promise<RunConfig> {
  return resolveConfig(opts, {
    command,
    now: new Date(),
    randomSeed: Math.floor(Math.random() * (MAX_SEED + 1)),
    formatNames: Object.keys(reporters),
    cwd: process.cwd(),
    repoRoot: fileURLToPath(new URL('..', import.meta.url)).replace(/\/$/, ''),
    machine: opts.runner === undefined ? await probeMachine() : undefined,
  });
}

/** Names on stderr a runner chosen without --runner, and why; called after preflight, so a refused command stays one line. */
export function announceRunner(cfg: RunConfig): void {
  if (cfg.runnerChosen !== null) process.stderr.write(`kptr-conform: ${cfg.runnerChosen} (--runner picks one)\n`);
}
