import { mkdirSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { KptrError } from '../errors/KptrError.ts';
import { createHostRunner } from '../runners/host/index.ts';
import type { Runner } from '../runners/runner.ts';
import { createVmRunner } from '../runners/vm/index.ts';
import { createEmulatorRunner } from '../runners/emulator/index.ts';
import { profileForRelease, type ProfileName } from '../emulator/verifier/profile.ts';
import { loadSpec } from '../specs/load.ts';
import type { ProbedKernel, ProgType, RunnerCapabilities, Spec } from '../types/index.ts';
import type { RunConfig } from './config.ts';
import type { Codegen } from '../compile/buildObject.ts';
import type { EmulatorCompanion } from './pipeline.ts';
import { probeDivergences, probedFeatures } from './divergenceProbes.ts';

/** a campaign's runner call on the emulator: two batches of the runner's default size (see Session.slice) */
export const EMULATOR_SLICE = 200;

/** A runner bound to one kernel, probed once: its capabilities, and which known divergences it shows. */
export interface Session {
  readonly runner: Runner;
  readonly caps: RunnerCapabilities;
  /** the kernel, with the load-only probe result of every known divergence (cli/divergenceProbes.ts) */
  readonly kernel: ProbedKernel;
  /** the kernel as RunConfig.kernels names it: 'host', or the vm runner's cached release or image path */
  readonly kernelName: string;
  readonly available: Readonly<Record<ProgType, boolean>>;
  /**
   * Shrink candidates checked per runner call. A host round trip costs a clang run (~0.1 s); a vm one costs a boot
   * (~4 s under TCG) while each extra candidate costs ~50 ms in the guest, so a vm round checks many more.
   */
  readonly shrinkBatch: number;
  /** round trips one finding's shrink may take: a vm round trip is a boot (~7 s with compile), a host one ~0.1 s */
  readonly shrinkRounds: number;
  readonly codegen: Codegen;
  /**
   * Cases per runner call in a campaign: the next slice is generated and predicted while the runner works on this
   * one. Emulator: two batches (its threads take them while this thread prepares the next). Host and vm: a whole
   * segment. A vm runner call boots its guests; on the host, two harness runs side by side already keep both cores of
   * this machine busy, and smaller calls only made more objects (a slice's few non-GPL scenarios get one of their
   * own, each a harness start) and more waves: 2,000 cases at 197 cases/s in slices of 400 against 315 in one call.
   */
  readonly slice: number;
  /**
   * The same runner on clang-compiled objects (the runner itself when codegen is clang): a campaign checks a mismatch
   * found on directly written objects again with it, and shrinks with it, so a finding is always one of the C.
   */
  readonly clangRunner: () => Runner;
  /** --with-emulator: the emulator with the profile that models this kernel, run beside it on every generated case */
  readonly emulator: EmulatorCompanion | null;
}

/** A thread count from the environment variable `name`, else `fallback`; a bad value is a usage error. */
function threadCount(env: NodeJS.ProcessEnv, name: string, fallback: number): number {
  const set = env[name];
  if (set === undefined || set === '') return fallback;
  const n = Number(set);
  if (!Number.isInteger(n) || n < 0) throw new KptrError('KPTR_USAGE', `${name} must be a whole number, got '${set}'`, 'set it to 0 (all in one thread) or a thread count, or unset it');
  return n;
}

/**
 * Worker threads of a session's emulator runner: KPTR_EMULATOR_THREADS, else one per CPU beyond two, at most two. The
 * main thread generates, predicts, compares and writes the reports, and V8's own collector and compiler threads keep
 * about one more CPU busy: on 2 CPUs a runner thread gained nothing (10,000 cases: 12.4–14.8 s without, 13.4–14.7 s
 * with it) and cost 15–20 % more CPU time (copies, its own heap and JIT warm-up).
 */
export function emulatorThreads(env: NodeJS.ProcessEnv = process.env): number {
  return threadCount(env, 'KPTR_EMULATOR_THREADS', Math.min(2, Math.max(0, availableParallelism() - 2)));
}

/**
 * Worker threads that predict a campaign's next slice (cli/predictor.ts): KPTR_PREDICT_THREADS, default none. On this
 * project's 2-CPU machines a prediction thread made campaigns slower (host 5,000 cases: 15.0–16.6 s against 13.2–15.3 s
 * in one thread; emulator 10,000: no gain): its clones and its own JIT warm-up cost more than the work it takes over
 * while the harness, or the emulator's thread, already keeps the second CPU busy.
 */
export function predictThreads(env: NodeJS.ProcessEnv = process.env): number {
  return threadCount(env, 'KPTR_PREDICT_THREADS', 0);
}

/**
 * The emulator runner that models a probed kernel, for --with-emulator: the profile of its release (profileForRelease)
 * with the features its divergence probes decide (a backport under the same version string).
 */
function companionFor(cfg: RunConfig, workDir: string, kernel: ProbedKernel, spec: Spec): EmulatorCompanion {
  const profile = profileForRelease(kernel.release);
  if (profile === null) {
    throw new KptrError('KPTR_USAGE', `--with-emulator: no emulator profile models kernel ${kernel.release} (specs/profiles)`, 'drop --with-emulator, or add a profile for this kernel');
  }
  const features = probedFeatures(spec, kernel.divergences);
  return { profile, runner: createEmulatorRunner({ kernel: profile, workDir: `${workDir}-emulator`, codegen: cfg.codegen, nrCpus: kernel.nrCpus, features, threads: emulatorThreads() }) };
}

/**
 * Creates and probes the runner for one kernel ('host' or a vm kernel name/path), and runs the divergence probes on
 * it (verify only); a runner that cannot work here is one KptrError. `signal` stops the probe run.
 */
export async function openSession(cfg: RunConfig, kernel: string, spec: Spec = loadSpec(), signal?: AbortSignal): Promise<Session> {
  const workDir = `${cfg.workDir}/${cfg.runner}-${kernel.replace(/[^\w.-]/g, '_')}`;
  mkdirSync(workDir, { recursive: true });
  const make = (codegen: Codegen, dir: string): Runner => (cfg.runner === 'host'
    ? createHostRunner({ workDir: dir, codegen })
    : cfg.runner === 'emulator'
      ? createEmulatorRunner({ kernel: kernel as ProfileName, workDir: dir, codegen, threads: emulatorThreads() })
      : createVmRunner({ kernel, workDir: dir, codegen, ...(cfg.lanes === null ? {} : { lanes: cfg.lanes }) }));
  const runner = make(cfg.codegen, workDir);
  let clang: Runner | null = cfg.codegen === 'clang' ? runner : null;
  const caps = await runner.probe();
  if (caps.problems.length > 0 || !caps.kernel) {
    throw new KptrError(
      'KPTR_RUNNER_UNAVAILABLE',
      `the ${cfg.runner} runner cannot run here: ${caps.problems.join('; ') || 'no kernel information'}`,
      'run `npx kptr-conform doctor` to see what is missing',
    );
  }
  const available = Object.fromEntries(
    (Object.keys(caps.progTypes) as ProgType[]).map((t) => [t, caps.progTypes[t].ok]),
  ) as Record<ProgType, boolean>;
  const divergences = await probeDivergences({ runner, kernel: caps.kernel, available, spec, signal });
  const probed: ProbedKernel = { ...caps.kernel, divergences };
  return {
    runner, caps, kernel: probed, kernelName: kernel, available,
    shrinkBatch: cfg.runner === 'vm' ? 64 : 16,
    shrinkRounds: cfg.runner === 'vm' ? 24 : 1000,
    codegen: cfg.codegen,
    slice: cfg.runner === 'emulator' ? EMULATOR_SLICE : Number.POSITIVE_INFINITY,
    clangRunner: () => (clang ??= make('clang', `${workDir}-clang`)),
    emulator: cfg.withEmulator ? companionFor(cfg, workDir, probed, spec) : null,
  };
}
