import { loadavg } from 'node:os';
import { loadObject, Machine } from '../emulator/index.ts';
import { packBatches } from '../compile/codegen/packBatches.ts';
import { writeObject } from '../compile/object/writeObject.ts';
import { taskPool } from '../threads/taskPool.ts';
import type { Scenario } from '../types/index.ts';
import { isRunStep } from '../types/index.ts';

/** One object's work: its bytes and, per scenario, the schedule and the globals read after each run. */
export interface EmulatorJob {
  readonly bytes: Uint8Array;
  readonly steps: readonly { readonly program: string; readonly cpu: number; readonly repeat: number; readonly globals: readonly string[] }[];
}

export interface EmulatorTally {
  readonly runs: number;
  readonly faults: number;
}

/**
 * What the emulator does for a campaign's objects: each object loaded (loadObject + Machine.load) and every
 * scenario's schedule run on it as the harness would, globals read after each run, the maps freed. Every program runs,
 * including those a kernel would refuse (the emulator has no verifier yet): their faults are counted.
 */
export function emulateJobs(jobs: readonly EmulatorJob[], nrCpus: number): EmulatorTally {
  let runs = 0, faults = 0;
  for (const job of jobs) {
    const m = Machine.load(loadObject(job.bytes, { rodata: { nr_cpus: nrCpus } }), { nrCpus });
    for (const s of job.steps) {
      for (let i = 0; i < s.repeat; i++) {
        if (m.run(s.program, Math.min(s.cpu, nrCpus - 1)).outcome === 'fault') faults++;
        runs++;
        m.globals(s.globals);
      }
    }
    faults += m.free().length;
  }
  return { runs, faults };
}

/** The scenarios as the direct writer's objects (maxPerBatch scenarios each), with their schedules. */
export function emulatorJobs(scenarios: readonly Scenario[], maxPerBatch: number): EmulatorJob[] {
  return packBatches(scenarios, maxPerBatch).map((b) => ({
    bytes: writeObject(b),
    steps: b.flatMap((s) => s.schedule.flatMap((st) => (!isRunStep(st) ? [] : [{ ...st, globals: s.globals.map((g) => g.name) }]))),
  }));
}

/** passes over the objects before a figure is taken: the JIT settles after two or three (a long campaign's steady state) */
export const WARM_UP_PASSES = 3;
/** measured passes after the warm-up: the machine is shared, so the median and the best of these are printed */
const MEASURED_PASSES = 5;

/** CPU time (user + system) of this process and wall time while `f` runs, ms */
export function timed(f: () => void): { readonly cpu: number; readonly wall: number } {
  const c0 = process.cpuUsage();
  const w0 = process.hrtime.bigint();
  f();
  const wall = Number(process.hrtime.bigint() - w0) / 1e6;
  const c = process.cpuUsage(c0);
  return { cpu: (c.user + c.system) / 1000, wall };
}

/** `1,234 median, 1,456 best`: a rate per CPU-second over passes of `n` items taking `ms` each */
export function rates(n: number, ms: readonly number[]): string {
  const sorted = [...ms].sort((a, b) => a - b);
  const rate = (t: number): string => Math.round(n / (t / 1000)).toLocaleString('en-US');
  return `${rate(sorted[Math.floor(sorted.length / 2)]!)} median, ${rate(sorted[0]!)} best of ${sorted.length}`;
}

export interface EmulatorThroughput extends EmulatorTally {
  readonly threads: number;
  /** wall time from handing out the objects to the last thread's answer, ms */
  readonly wallMs: number;
}

/** What each bench thread holds (cloned once, before the clock starts): the objects, dealt round-robin by share. */
export interface EmulatorThreadData {
  readonly jobs: readonly EmulatorJob[];
  readonly nrCpus: number;
  readonly threads: number;
}

/** A bench thread's task: emulate share `share` of the objects `passes` times. */
export interface EmulatorShare {
  readonly share: number;
  readonly passes: number;
}

/**
 * emulateJobs over `threads` pool threads, each on its share of the objects: one warm-up task per thread, then the
 * timed tasks (a thread runs one task at a time, so `threads` tasks at once are one per thread).
 */
export async function emulatorThroughput(jobs: readonly EmulatorJob[], nrCpus: number, threads: number): Promise<EmulatorThroughput> {
  const pool = taskPool({ task: new URL('./emulatorWorker.ts', import.meta.url), data: { jobs, nrCpus, threads } satisfies EmulatorThreadData, threads });
  try {
    const shares = (passes: number): Promise<EmulatorTally[]> =>
      Promise.all(Array.from({ length: threads }, (_, share) => pool.run({ share, passes } satisfies EmulatorShare) as Promise<EmulatorTally>));
    await shares(WARM_UP_PASSES);
    const t0 = process.hrtime.bigint();
    const tallies = await shares(1);
    const wallMs = Number(process.hrtime.bigint() - t0) / 1e6;
    return {
      threads, wallMs,
      runs: tallies.reduce((a, t) => a + t.runs, 0),
      faults: tallies.reduce((a, t) => a + t.faults, 0),
    };
  } finally {
    await pool.destroy();
  }
}

/**
 * Prints the emulator's figures for `scenarios`: load + run per scenario with direct-writer objects, in one thread
 * (CPU time of this process, the figure to compare across machines) and over one worker thread per core (wall).
 */
export async function printEmulatorFigures(scenarios: readonly Scenario[], nrCpus: number, maxPerBatch: number, threads: number): Promise<void> {
  const jobs = emulatorJobs(scenarios, maxPerBatch);
  for (let i = 0; i < WARM_UP_PASSES; i++) emulateJobs(jobs, nrCpus);
  let one: EmulatorTally = { runs: 0, faults: 0 };
  const times = Array.from({ length: MEASURED_PASSES }, () => timed(() => { one = emulateJobs(jobs, nrCpus); }));
  const passes = times.map((t) => t.cpu);
  const many = await emulatorThroughput(jobs, nrCpus, threads);
  const median = [...passes].sort((a, b) => a - b)[Math.floor(passes.length / 2)]!;
  process.stdout.write(`emulator: ${scenarios.length} scenarios in ${jobs.length} direct-writer objects, ${one.runs} runs (${one.faults} faults: programs a kernel would refuse run too), ${nrCpus} CPUs\n`);
  process.stdout.write(`emulator load + run, one thread: ${rates(scenarios.length, passes)} scenarios per CPU-second (${(median * 1000 / scenarios.length).toFixed(0)} µs each, median); ${rates(scenarios.length, times.map((t) => t.wall))} scenarios/s wall (load average ${loadavg()[0]?.toFixed(1)})\n`);
  process.stdout.write(`emulator load + run, ${many.threads} threads: ${(scenarios.length / (many.wallMs / 1000)).toFixed(0)} scenarios/s wall (load average ${loadavg()[0]?.toFixed(1)})\n`);
}
