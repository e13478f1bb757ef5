import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { execa } from 'execa';
import { diskFull, orDiskFull, saysNoSpace } from '../../errors/diskFull.ts';
import { cancelReason, childStopped } from '../../errors/interrupted.ts';
import { KptrError } from '../../errors/KptrError.ts';
import type { KernelInfo, NotRun, Observation, RunnerCapabilities, RunPlan, Scenario, ScheduleStep, Splat } from '../../types/index.ts';
import { isRunStep } from '../../types/index.ts';
import { buildObject, type Codegen } from '../../compile/buildObject.ts';
import { packBatches } from '../../compile/codegen/packBatches.ts';
import { startInPool } from '../startInPool.ts';
import { decodeEvents } from '../harnessEvents.ts';
import { DEFAULT_HARNESS_PATH, expectedRefused, MAP_OPS_NOT_RUN, parseHarnessEvents, writePlan } from '../harnessProtocol.ts';
import type { RunCase, Runner, RunHooks } from '../runner.ts';
import { attributeSplats } from './attributeSplats.ts';
import { KmsgReader } from './KmsgReader.ts';
import { probeHost } from './probe.ts';
import { hostExecutionGate, hostMapOpGate, hostRefusesScenario } from './safety.ts';

export interface HostRunnerOptions {
  /** where .bpf.c, .o, plans and harness output of each batch are written */
  readonly workDir: string;
  readonly harnessPath?: string;
  /** objects built ahead, and harness runs side by side; default 2 (one per core here) */
  readonly jobs?: number;
  /** scenarios per object; default DEFAULT_MAX_PER_BATCH */
  readonly maxPerBatch?: number;
  /** probe cache; default `~/.cache/kptr-conform` */
  readonly cacheDir?: string;
  /** how objects are made; default 'clang' */
  readonly codegen?: Codegen;
  /** keep each batch's files once read (a test replays the kernel's exact objects and plans elsewhere); default false */
  readonly keepBatches?: boolean;
}

/**
 * Scenarios per object. Each object costs a harness start (vmlinux BTF read, ~50 ms) and a kernel BTF load (~14 ms),
 * and with clang a compiler start (~40 ms), but clang's time per program grows with the object (BTF emission), and
 * smaller objects keep both cores busy: measured on 400 mixed cases with clang, 50 → 212, 100 → 223, 200 → 185 cases/s
 * end to end; on 2,000 with direct objects, 100 → 663, 200 → 655.
 */
export const DEFAULT_MAX_PER_BATCH = 100;

/** A batch ready for the harness, or the observations that say why it is not. */
type Compiled = { readonly object: string } | { readonly error: KptrError };

/** What every batch of one run() shares. */
interface RunContext {
  readonly plans: ReadonlyMap<string, RunPlan>;
  readonly kernel: KernelInfo;
  readonly signal: AbortSignal | undefined;
}

/**
 * The host runner: verifies every program of every scenario on the running kernel, and executes only the schedule
 * steps the host-safety gate allows (runners/host/safety.ts); the rest become NotRun entries with the gate's reason.
 * Scenarios are packed into objects (one build, one harness run each); objects are built ahead while harness runs
 * go two at a time.
 */
export function createHostRunner(options: HostRunnerOptions): Runner {
  const harness = options.harnessPath ?? DEFAULT_HARNESS_PATH;
  const jobs = Math.max(1, options.jobs ?? 2);
  const maxPerBatch = options.maxPerBatch ?? DEFAULT_MAX_PER_BATCH;
  let caps: Promise<RunnerCapabilities> | null = null;
  let batchSeq = 0;

  const probe = (): Promise<RunnerCapabilities> => {
    caps ??= probeHost({ harnessPath: harness, ...(options.cacheDir ? { cacheDir: options.cacheDir } : {}) });
    return caps;
  };

  const compile = async (batch: readonly Scenario[], name: string, signal: AbortSignal | undefined): Promise<Compiled> => {
    try {
      return { object: await buildObject(batch, options.codegen ?? 'clang', options.workDir, name, signal) };
    } catch (e) {
      if (e instanceof KptrError && (e.code === 'KPTR_COMPILE_FAILED' || e.code === 'KPTR_SCENARIO_INVALID')) return { error: e };
      throw e;
    }
  };

  /** One harness run over one object; a batch whose object fails as a whole is retried one scenario at a time. */
  const execute = async (
    batch: readonly Scenario[],
    compiled: Compiled,
    name: string,
    ctx: RunContext,
  ): Promise<Observation[]> => {
    const { plans, kernel, signal } = ctx;
    if ('error' in compiled) {
      if (batch.length > 1) return isolate(batch, ctx);
      const e = compiled.error;
      return batch.map((s) => failed(s, kernel, e.code, e.message));
    }
    const gateNotRun = new Map<string, NotRun[]>();
    const runSteps: Record<string, number[]> = {};
    for (const s of batch) {
      const plan = plans.get(s.id) as RunPlan;
      // optimistic about the kernel's verdict: the harness itself never runs a program the kernel rejected
      const gate = hostExecutionGate(s, plan, new Set(s.programs.map((p) => p.name)), kernel.nrCpus);
      const allowed = new Set(gate.filter((g) => g.allowed).map((g) => g.program));
      const mapOpsRefused = s.schedule.some((st) => 'mapOp' in st) ? hostMapOpGate(s, plan, gate) : null;
      // without its map operations the schedule is another one: what runs after the first is held back too
      const firstMapOp = mapOpsRefused === null ? s.schedule.length : s.schedule.findIndex((st) => 'mapOp' in st);
      // a grace period is a syscall of the harness's own: it runs wherever a program of the scenario may
      const runs = (st: ScheduleStep): boolean => ('mapOp' in st ? true : !isRunStep(st) ? allowed.size > 0 : allowed.has(st.program));
      runSteps[s.id] = s.schedule.flatMap((st, i) => (i < firstMapOp && runs(st) ? [i] : []));
      const scheduled = new Set(s.schedule.flatMap((st) => (isRunStep(st) ? [st.program] : [])));
      // programs the gate allows whose runs come after the first held-back map operation
      const heldAfter = new Set(s.schedule.flatMap((st, i) => (i > firstMapOp && isRunStep(st) && allowed.has(st.program) ? [st.program] : [])));
      gateNotRun.set(s.id, [
        ...gate.filter((g) => !g.allowed && scheduled.has(g.program)).map((g) => ({ program: g.program, reason: g.reason })),
        ...(mapOpsRefused === null ? [] : [{ program: MAP_OPS_NOT_RUN, reason: `userspace map operations: ${mapOpsRefused}` }]),
        ...[...heldAfter].map((program) => ({ program, reason: `${program}: its runs after step ${firstMapOp} (a userspace map operation held back) are held back too` })),
      ]);
    }
    const planFile = join(options.workDir, `${name}.plan`);
    const outFile = join(options.workDir, `${name}.jsonl`);
    await orDiskFull(planFile, () => writeFile(planFile, writePlan({ scenarios: batch, runSteps, expectedRefused: expectedRefused(batch, plans) })));
    const r = await execa(harness, ['run', compiled.object, planFile, '--out', outFile, '--kmsg-watch'], { reject: false, cancelSignal: signal });
    // a harness killed to stop the run, or whose output the disk could not take, observed nothing
    const stopped = childStopped(r, signal);
    if (stopped) throw stopped;
    if (r.exitCode !== 0 && saysNoSpace(r.stderr)) throw diskFull(outFile, r);
    const text = await readFile(outFile, 'utf8').catch(() => '');
    if (r.exitCode !== 0 && text === '') {
      throw new KptrError('KPTR_HARNESS_CRASH', `the harness failed on ${compiled.object}: ${r.stderr.trim() || r.signal || r.exitCode}`, 'rebuild it with scripts/build-harness.sh and rerun', { cause: r });
    }
    // a batch read back leaves nothing behind: a 1,000,000-case campaign would otherwise keep ~1.6 GB of objects
    // (a crashed harness's files stay, for the error above)
    if (!options.keepBatches) await Promise.all(['.bpf.c', '.bpf.o', '.plan', '.jsonl'].map((ext) => rm(join(options.workDir, `${name}${ext}`), { force: true })));
    const events = decodeEvents(text, outFile);
    // libbpf refused the whole object (an `object` event): each scenario again in an object of its own
    if (batch.length > 1 && events.some((e) => e.ev === 'object')) return isolate(batch, ctx);

    const died = r.exitCode !== 0 ? ` (${r.signal ?? `exit ${r.exitCode}`}: ${r.stderr.trim().split('\n').pop() ?? ''})` : '';
    return parseHarnessEvents(events, batch, 'host', kernel).map((o) => ({
      ...o,
      error: o.error ? { ...o.error, message: o.error.message + died } : null,
      notRun: [...(gateNotRun.get(o.scenarioId) ?? []), ...o.notRun],
    }));
  };

  /** One object per scenario, so one scenario's compile error or missing extern does not decide the others. */
  const isolate = async (batch: readonly Scenario[], ctx: RunContext): Promise<Observation[]> => {
    const out: Observation[] = [];
    for (const s of batch) {
      const name = `batch-${process.pid}-${batchSeq++}`;
      out.push(...(await execute([s], await compile([s], name, ctx.signal), name, ctx)));
    }
    return out;
  };

  const run = async (cases: readonly RunCase[], hooks?: RunHooks): Promise<Observation[]> => {
    const c = await probe();
    if (c.problems.some((p) => p.startsWith('no CAP_BPF'))) {
      throw new KptrError('KPTR_NO_BPF_PRIVILEGE', 'the host runner needs CAP_BPF and CAP_PERFMON to load BPF programs', 'run as root or grant CAP_BPF+CAP_PERFMON');
    }
    if (c.problems.length > 0 || !c.kernel) {
      throw new KptrError('KPTR_HARNESS_MISSING', c.problems.join('; ') || 'the host kernel could not be probed', 'run scripts/build-harness.sh (or scripts/setup.sh)');
    }
    const kernel = c.kernel;
    await mkdir(options.workDir, { recursive: true });
    const results = new Map<string, Observation>();
    const done = (o: Observation): void => {
      results.set(o.scenarioId, o);
      hooks?.onObservation?.(o);
    };

    const runnable: Scenario[] = [];
    for (const { scenario } of cases) {
      const missing = scenario.programs.find((p) => !c.progTypes[p.progType].ok);
      const refused = hostRefusesScenario(scenario);
      if (refused !== null) {
        done(skipped(scenario, kernel, refused));
      } else if (missing) {
        const why = c.progTypes[missing.progType].reason ?? 'unavailable';
        done(skipped(scenario, kernel, `${missing.progType} programs cannot be loaded on this kernel: ${why}`));
      } else {
        runnable.push(scenario);
      }
    }
    const plans = new Map(cases.map((k) => [k.scenario.id, k.plan]));
    const batches = packBatches(runnable, maxPerBatch).map((b) => ({ scenarios: b, name: `batch-${process.pid}-${batchSeq++}` }));
    // `jobs` objects are built ahead whatever the harness is doing, and `jobs` harness runs go side by side (waves in
    // batch order). Host splats are rare (the host runs host-safe programs only): one the kernel logs during a wave
    // and that names no program goes to every scenario of the wave
    const signal = hooks?.signal;
    const ctx: RunContext = { plans, kernel, signal };
    const compiling = startInPool(batches, jobs, (b) => {
      // batches not started when the run stops are never built
      if (signal?.aborted) return Promise.reject(cancelReason(signal));
      return compile(b.scenarios, b.name, signal);
    });
    // a build that fails ahead of its wave (a full disk, the run stopping) is seen when its wave awaits it, or by the
    // allSettled below: never an unhandled rejection
    for (const p of compiling) p.catch(() => {});
    const kmsg = KmsgReader.open();
    try {
      for (let i = 0; i < batches.length; i += jobs) {
        if (signal?.aborted) throw cancelReason(signal);
        const wave = batches.slice(i, i + jobs);
        const outs = await Promise.all(wave.map(async (b, k) => execute(b.scenarios, await (compiling[i + k] as Promise<Compiled>), b.name, ctx)));
        const splats = kmsg ? attributeSplats(kmsg.drain(), wave.flatMap((b) => b.scenarios)) : new Map<string, Splat[]>();
        for (const o of outs.flat()) done({ ...o, splats: [...o.splats, ...(splats.get(o.scenarioId) ?? [])] });
      }
    } finally {
      kmsg?.close();
      // no build outlives the run
      await Promise.allSettled(compiling);
    }
    return cases.map((k) => results.get(k.scenario.id) as Observation);
  };

  return { name: 'host', probe, run };
}

function empty(s: Scenario, kernel: KernelInfo): Observation {
  return { scenarioId: s.id, runner: 'host', kernel, skipped: null, error: null, programs: [], runs: [], mapOps: [], notRun: [], splats: [] };
}

function skipped(s: Scenario, kernel: KernelInfo, reason: string): Observation {
  return { ...empty(s, kernel), skipped: reason };
}

function failed(s: Scenario, kernel: KernelInfo, code: string, message: string): Observation {
  return { ...empty(s, kernel), error: { code, message } };
}
