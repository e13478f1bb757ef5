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

/** timed rounds after the warm-up: the machine is shared, so the median and the best of these are printed (9: a pass is ~60-100 ms, and 5 left the median to two outliers) */
const MEASURED_PASSES = 9;
/**
 * warm-up rounds before settling counts: the JIT tiers up for ~10 rounds of the whole pipeline, with plateaus of three
 * rounds within 15 % on the way (a figure taken there was half the steady state)
 */
const MIN_WARM_UP_ROUNDS = 12;
/** warm-up rounds before the threads are measured anyway */
const MAX_WARM_UP_ROUNDS = 30;

/** CPU time (user + system) of this process, all threads, and wall time while `f` runs (awaited), ms, with its result */
export async function timedAsync<T>(f: () => Promise<T>): Promise<{ readonly cpu: number; readonly wall: number; readonly value: T }> {
  const c0 = process.cpuUsage();
  const w0 = process.hrtime.bigint();
  const value = await f();
  const wall = Number(process.hrtime.bigint() - w0) / 1e6;
  const c = process.cpuUsage(c0);
  return { cpu: (c.user + c.system) / 1000, wall, value };
}

/** the middle one of `xs` (of an even count, the upper middle) */
export function median(xs: readonly number[]): number {
  return [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
}

/** `1,234 median, 1,456 best`: a rate per CPU-second over passes of `n` items taking `ms` each */
export function rates(n: number, ms: readonly number[]): string {
  const rate = (t: number): string => Math.round(n / (t / 1000)).toLocaleString('en-US');
  return `${rate(median(ms))} median, ${rate(Math.min(...ms))} best of ${ms.length}`;
}

export interface EmulatorThroughput extends EmulatorTally, Omit<SettledRounds<EmulatorShareResult>, 'last'> {
  readonly threads: number;
}

/** What each bench thread holds (cloned once, before the clock starts): the objects and which thread emulates each. */
export interface EmulatorThreadData {
  readonly jobs: readonly EmulatorJob[];
  readonly nrCpus: number;
  /** per job: the share (thread) it belongs to */
  readonly shareOf: readonly number[];
}

/** A bench thread's task: emulate share `share` of the objects `passes` times. */
export interface EmulatorShare {
  readonly share: number;
  readonly passes: number;
}

/** A bench thread's answer: the last pass's tally, and which thread ran it (worker_threads threadId). */
export interface EmulatorShareResult extends EmulatorTally {
  readonly thread: number;
}

/** a job's weight when shares are balanced: its runs (a run costs more than an object's load per scenario) and scenarios' load */
const weight = (j: EmulatorJob): number => j.bytes.length / 1000 + j.steps.reduce((a, s) => a + s.repeat, 0);

/**
 * The jobs dealt to `threads` shares of about equal work, heaviest first to the lightest share (round-robin dealt
 * 11 objects to one thread and 10, two of them small, to the other: the round waited for the first).
 */
export function balancedShares(jobs: readonly EmulatorJob[], threads: number): number[] {
  const load = new Array<number>(threads).fill(0);
  const shareOf = new Array<number>(jobs.length).fill(0);
  const order = jobs.map((j, i) => ({ i, w: weight(j) })).sort((a, b) => b.w - a.w);
  for (const { i, w } of order) {
    const s = load.indexOf(Math.min(...load));
    shareOf[i] = s;
    load[s] = (load[s] as number) + w;
  }
  return shareOf;
}

/** Timed rounds of pool threads: wall and CPU time of each, the last round's answers, and rounds run on fewer threads. */
export interface SettledRounds<R> {
  /** per timed round: wall time from handing out the work to the last answer, ms */
  readonly wallMs: readonly number[];
  /** per timed round: CPU time of the whole process (all threads, V8's GC threads included), ms */
  readonly cpuMs: readonly number[];
  readonly last: readonly R[];
  /** timed rounds whose tasks did not all run on different threads */
  readonly fewer: number;
}

/**
 * `round` (one task per pool thread, handed out at once) run untimed until every thread has run one and a round's
 * time has settled (the last three within 15 %, after MIN_WARM_UP_ROUNDS), then MEASURED_PASSES timed rounds. A pool
 * thread starts cold and its JIT compiles on in the background for several passes: after three warm-up passes the
 * first timed rounds still took 2-4x the CPU of later ones (two threads measured slower than one). A round's tasks go
 * to the threads that are ready, so a thread still loading its modules leaves its task to another: warm-up needs every
 * thread seen, and a timed round that ran on fewer threads is counted.
 */
export async function settledRounds<R extends { readonly thread: number }>(round: () => Promise<R[]>, threads: number): Promise<SettledRounds<R>> {
  const warm = new Set<number>();
  const warmUpMs: number[] = [];
  for (let n = 0; n < MAX_WARM_UP_ROUNDS; n++) {
    const r = await timedAsync(round);
    for (const t of r.value) warm.add(t.thread);
    warmUpMs.push(r.wall);
    const last = warmUpMs.slice(-3);
    if (n >= MIN_WARM_UP_ROUNDS - 1 && warm.size === threads && Math.max(...last) <= 1.15 * Math.min(...last)) break;
  }
  const wallMs: number[] = [], cpuMs: number[] = [];
  let last: R[] = [];
  let fewer = 0;
  for (let i = 0; i < MEASURED_PASSES; i++) {
    const r = await timedAsync(round);
    last = r.value;
    wallMs.push(r.wall);
    cpuMs.push(r.cpu);
    if (new Set(last.map((t) => t.thread)).size < threads) fewer++;
  }
  return { wallMs, cpuMs, last, fewer };
}

/** emulateJobs over `threads` pool threads, each on its balanced share of the objects, in settled rounds. */
export async function emulatorThroughput(jobs: readonly EmulatorJob[], nrCpus: number, threads: number): Promise<EmulatorThroughput> {
  const shareOf = balancedShares(jobs, threads);
  const pool = taskPool({ task: new URL('./emulatorWorker.ts', import.meta.url), data: { jobs, nrCpus, shareOf } satisfies EmulatorThreadData, threads });
  try {
    // every share once, at the same time
    const round = (): Promise<EmulatorShareResult[]> =>
      Promise.all(Array.from({ length: threads }, (_, share) => pool.run({ share, passes: 1 } satisfies EmulatorShare) as Promise<EmulatorShareResult>));
    const { wallMs, cpuMs, last, fewer } = await settledRounds(round, threads);
    return {
      threads, wallMs, cpuMs, fewer,
      runs: last.reduce((a, t) => a + t.runs, 0),
      faults: last.reduce((a, t) => a + t.faults, 0),
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
  // settled as the threads' figure below is (it is taken after >= 12 rounds; this one was after three passes)
  const alone = await settledRounds(async () => [{ ...emulateJobs(jobs, nrCpus), thread: 0 }], 1);
  const one = alone.last[0]!;
  const passes = alone.cpuMs;
  const walls = alone.wallMs;
  const n = scenarios.length;
  process.stdout.write(`emulator: ${n} scenarios in ${jobs.length} direct-writer objects, ${one.runs} runs (${one.faults} faults: programs a kernel would refuse run too), ${nrCpus} CPUs\n`);
  process.stdout.write(`emulator load + run, one thread: ${rates(n, passes)} scenarios per CPU-second (${(median(passes) * 1000 / n).toFixed(0)} µs each, median); ${rates(n, walls)} scenarios/s wall (load average ${loadavg()[0]?.toFixed(1)})\n`);
  if (threads < 2) return;
  const many = await emulatorThroughput(jobs, nrCpus, threads);
  // the speed-up over one thread's wall median, and why it is below `threads`: more CPU per scenario (GC threads,
  // contention), or fewer cores than threads given to the process (a shared machine)
  const speedUp = median(walls) / median(many.wallMs);
  const cpuCost = median(many.cpuMs) / median(passes);
  const cores = median(many.cpuMs) / median(many.wallMs);
  const fewer = many.fewer > 0 ? `; ${many.fewer} of ${many.wallMs.length} rounds ran on fewer threads` : '';
  process.stdout.write(`emulator load + run, ${many.threads} threads (objects balanced by work${fewer}): ${rates(n, many.wallMs)} scenarios/s wall, ${speedUp.toFixed(2)}x one thread's; ${cpuCost.toFixed(2)}x its CPU per scenario, ${cores.toFixed(1)} of ${many.threads} cores busy (load average ${loadavg()[0]?.toFixed(1)})\n`);
}
