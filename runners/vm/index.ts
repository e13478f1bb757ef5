import { access, mkdir } from 'node:fs/promises';
import { constants } from 'node:fs';
import { availableParallelism, freemem } from 'node:os';
import { basename } from 'node:path';
import { endsHoldingNothing, type KernelInfo, type Observation, type RunnerCapabilities, type Scenario } from '../../types/index.ts';
import { cancelReason } from '../../errors/interrupted.ts';
import { KptrError } from '../../errors/KptrError.ts';
import { buildObject, type Codegen } from '../../compile/buildObject.ts';
import { packBatches } from '../../compile/codegen/packBatches.ts';
import { expectedRefused, writePlan } from '../harnessProtocol.ts';
import { startInPool } from '../startInPool.ts';
import { DEFAULT_HARNESS_PATH } from '../harnessProtocol.ts';
import type { Runner, RunCase, RunHooks } from '../runner.ts';
import { consoleSplats, unclosedScenarios } from '../kernelLog.ts';
import { parseChannel } from './console.ts';
import { buildInitramfs, type GuestHook } from './initramfs.ts';
import { resolveKernel, type KernelImage } from './kernelImages.ts';
import { bootVm, probeAccel, type Accel } from './qemu.ts';
import { bootShare, guestUnits } from './guestUnits.ts';
import { splitLanes } from './lanes.ts';
import { settleBoot, type GuestUnit } from './settleBoot.ts';

export type { GuestHook } from './initramfs.ts';

export interface VmRunnerOptions {
  /** a kernel name (`6.12`, `latest`), a cached release, or a path to a bzImage */
  readonly kernel: string;
  /** scratch directory for C files, objects, initramfs archives and serial logs */
  readonly workDir: string;
  readonly harnessPath?: string;
  /** kernel cache; defaults to `${XDG_CACHE_HOME:-~/.cache}/kptr-conform` */
  readonly cacheDir?: string;
  /** guest CPUs (-smp); also the guest's nr_cpus. Default 2. */
  readonly cpus?: number;
  readonly memoryMb?: number;
  /**
   * scenarios per object (one clang run) and per harness run in the guest. Default 100: a harness run costs ~0.25 s
   * of fixed work under TCG (object open, vmlinux BTF), a smaller unit redoes less after a panic; 2,000 tc/syscall
   * cases ran at 35 cases/s with 64, 47 with 100 and 47 with 200.
   */
  readonly maxPerBatch?: number;
  /** how objects are made; default 'clang' */
  readonly codegen?: Codegen;
  /** QEMU start → /init running. Default 120 s. */
  readonly bootTimeoutMs?: number;
  /** longest a harness run in the guest may go without output. Default 120 s (TCG verifies slowly). */
  readonly caseTimeoutMs?: number;
  /** default: KVM when a probe boot works here, else TCG */
  readonly accel?: Accel;
  /**
   * guests booted side by side, each with whole objects of its own. Default (defaultLanes): one per host CPU under
   * TCG (a TCG guest runs on one host thread, qemuArgs: on 2 cores two lanes run 1,000 mixed cases in 19 s instead of
   * 29), one per `cpus` host CPUs with KVM (each vCPU is a host thread), as many as free memory holds.
   */
  readonly lanes?: number;
  /**
   * The memory oracle: each scenario that ends with free_maps (or owner_exit, every slot in local storage) gets an object and a harness run of its own, followed
   * by this many more passes of its plan with `Percpu:` sampled around them (Observation.memory). Default 0 (off):
   * a pass costs a load of the object under TCG.
   */
  readonly memoryPasses?: number;
  /** testing only: these scenarios' free_maps closes no map (a kernel that keeps the objects: the memory oracle's positive control) */
  readonly keepMaps?: readonly string[];
  /** testing only: these scenarios' owner_exit keeps the old owner alive (a kernel that keeps a dead owner's storage: the positive control) */
  readonly keepOwners?: readonly string[];
  /** testing only: make the guest panic or hang when it reaches these scenarios */
  readonly guestHooks?: Readonly<Record<string, GuestHook>>;
  /** per-boot figures, for benchmarks and logs */
  readonly onBoot?: (stats: VmBootStats) => void;
}

export interface VmBootStats {
  readonly boot: number;
  readonly cases: number;
  readonly decided: number;
  readonly bootMs: number | null;
  readonly wallMs: number;
  readonly accel: Accel;
}

const EARLY_DEATH_RETRIES = 1;

/**
 * A Runner that boots `kernel` under QEMU and runs every case in the guest: all program types, and every schedule
 * step of every case allowed to execute (a guest may break; only programs the kernel rejected are not run).
 * One boot runs all cases, one harness process per object; a panic or hang fails the scenario that caused it
 * (named by the harness's kmsg markers) and the rest go into a new boot.
 */
export function createVmRunner(options: VmRunnerOptions): Runner {
  const harnessPath = options.harnessPath ?? DEFAULT_HARNESS_PATH;
  const cpus = options.cpus ?? 2;
  // names stay unique over the runner's life, so each boot's console and channel logs stay on disk to be read
  let bootSeq = 0;
  let objectSeq = 0;
  const kernelInfo = (image: KernelImage): KernelInfo => ({
    release: image.release,
    version: image.version,
    nrCpus: cpus,
    machine: 'vm',
  });

  return {
    name: 'vm',

    async probe(): Promise<RunnerCapabilities> {
      const problems: string[] = [];
      const image = await resolveKernel(options.kernel, options).catch((e: unknown) => {
        problems.push(e instanceof KptrError ? e.oneLine() : String(e));
        return null;
      });
      if (!(await isExecutable(harnessPath))) problems.push(`native harness missing at ${harnessPath}: run scripts/build-harness.sh`);
      const reason = problems[0] ?? null;
      const status = { ok: reason === null, reason };
      return {
        runner: 'vm',
        kernel: image ? kernelInfo(image) : null,
        // Program types are not probed by booting: the guest's verifier decides each program, and its verdict is the observation.
        progTypes: { tc: status, syscall: status, fentry: status, 'fentry.s': status },
        problems,
      };
    },

    async run(cases: readonly RunCase[], hooks: RunHooks = {}): Promise<Observation[]> {
      const image = await resolveKernel(options.kernel, options);
      if (!(await isExecutable(harnessPath))) {
        throw new KptrError('KPTR_HARNESS_MISSING', `native harness missing at ${harnessPath}`, 'run scripts/build-harness.sh');
      }
      await mkdir(options.workDir, { recursive: true });
      const kernel = kernelInfo(image);
      const accel = options.accel ?? (await probeAccel(image.vmlinuz, options.workDir));

      const objectOf = new Map<string, string>();
      const objects: Record<string, string> = {};
      // Scenarios whose kernel is known to log a splat for them get objects of their own and run after the others,
      // with a pause after their runs: a splat from their teardown (maps freed through RCU callbacks) then lands on
      // one of them, not on whoever runs next. Most such scenarios never splat, so they share runs and pauses.
      const splatting = new Set(cases.filter((c) => c.plan.expectSplat).map((c) => c.scenario.id));
      const corrupting = new Set(cases.filter((c) => c.plan.corruptsKernel).map((c) => c.scenario.id));
      const maxPerBatch = options.maxPerBatch ?? 100;
      // a measured scenario's passes load its whole object again: other scenarios' maps would count as its growth
      const others = cases.map((c) => c.scenario).filter((s) => !measured(options, s));
      const batches = [
        ...packBatches(others.filter((s) => !splatting.has(s.id)), maxPerBatch),
        ...packBatches(cases.map((c) => c.scenario).filter((s) => measured(options, s)), 1),
        ...packBatches(others.filter((s) => splatting.has(s.id)), maxPerBatch),
      ];
      const compiled = await Promise.all(
        startInPool(batches, 2, (batch) => buildObject(batch, options.codegen ?? 'clang', options.workDir, `vm-batch-${objectSeq++}`, hooks.signal)),
      );
      for (const [i, batch] of batches.entries()) {
        const object = compiled[i] as string;
        objects[basename(object)] = object;
        for (const s of batch) objectOf.set(s.id, basename(object));
      }
      const stepsOf = new Map(cases.map((c) => [c.scenario.id, c.plan.execute ? c.scenario.schedule.map((_, i) => i) : []]));
      const refused = expectedRefused(cases.map((c) => c.scenario), new Map(cases.map((c) => [c.scenario.id, c.plan])));

      const results = new Map<string, Observation>();
      const context: LaneContext = {
        options, image, kernel, accel, cpus, harnessPath, objects, objectOf, stepsOf, refused, splatting, corrupting,
        signal: hooks.signal,
        nextBoot: () => bootSeq++,
        decided: (o) => {
          results.set(o.scenarioId, o);
          hooks.onObservation?.(o);
        },
      };
      const lanes = options.lanes ?? defaultLanes(accel, cpus, options.memoryMb ?? 1024);
      await Promise.all(splitLanes(batches, lanes).map((scenarios) => runLane(context, scenarios)));
      return cases.map((c) => results.get(c.scenario.id) as Observation);
    },
  };
}

/**
 * Whether the memory oracle measures `s`: memory passes asked for, and a schedule that ends by freeing what it holds:
 * its maps, or the owner of local storage that holds every slot.
 */
function measured(options: VmRunnerOptions, s: Scenario): boolean {
  return (options.memoryPasses ?? 0) > 0 && endsHoldingNothing(s);
}

/**
 * Guests side by side by default: one per host CPU under TCG (one host thread each), one per `cpus` host CPUs with
 * KVM, and no more than free memory holds (the guest's RAM plus ~256 MiB of QEMU around it).
 */
function defaultLanes(accel: Accel, cpus: number, memoryMb: number): number {
  const byCpu = Math.floor(availableParallelism() / (accel === 'kvm' ? cpus : 1));
  const byMemory = Math.floor(freemem() / ((memoryMb + 256) * 2 ** 20));
  return Math.max(1, Math.min(byCpu, byMemory));
}

/** What every lane of one run shares: the compiled objects, the plans' inputs, where decided scenarios go. */
interface LaneContext {
  readonly options: VmRunnerOptions;
  readonly image: KernelImage;
  readonly kernel: KernelInfo;
  readonly accel: Accel;
  readonly cpus: number;
  readonly harnessPath: string;
  /** object file name → path here */
  readonly objects: Readonly<Record<string, string>>;
  /** scenario id → its object's file name */
  readonly objectOf: ReadonlyMap<string, string>;
  /** scenario id → schedule steps to run */
  readonly stepsOf: ReadonlyMap<string, readonly number[]>;
  /** programs the plans do not expect the kernel to accept (PlanBatch.expectedRefused) */
  readonly refused: ReadonlySet<string>;
  /** scenarios expected to splat (run last, with a settle pause) */
  readonly splatting: ReadonlySet<string>;
  /** scenarios that may corrupt the kernel (RunPlan.corruptsKernel: run after the splatting ones) */
  readonly corrupting: ReadonlySet<string>;
  /** RunHooks.signal: no boot starts after it, and a running guest is killed */
  readonly signal: AbortSignal | undefined;
  readonly nextBoot: () => number;
  readonly decided: (o: Observation) => void;
}

/**
 * Boots guests until every scenario of the lane is decided: a panic or hang decides the scenario that caused it and
 * sends the rest of the lane to a new boot.
 */
async function runLane(lane: LaneContext, scenarios: readonly Scenario[]): Promise<void> {
  const { options, objectOf, splatting, corrupting } = lane;
  let pending = scenarios;
  let isolate = new Set<string>();
  let earlyDeaths = 0;
  while (pending.length > 0) {
    if (lane.signal?.aborted) throw cancelReason(lane.signal);
    const boot = lane.nextBoot();
    const batchId = `boot${boot}`;
    const { now, later } = bootShare(pending, corrupting);
    const units = guestUnits(now, objectOf, {
      alone: (s) => isolate.has(s.id) || options.guestHooks?.[s.id] !== undefined || measured(options, s),
      tier: (s) => (corrupting.has(s.id) ? 2 : splatting.has(s.id) ? 1 : 0),
    });
    const objectOfUnit = (u: GuestUnit): string => objectOf.get((u.scenarios[0] as Scenario).id) as string;
    const initrd = await buildInitramfs({
      workDir: options.workDir,
      batchId,
      harnessPath: lane.harnessPath,
      // only this lane's objects: each initramfs is built and unpacked per boot
      objects: Object.fromEntries(units.map(objectOfUnit).map((name) => [name, lane.objects[name] as string])),
      units: units.map((u) => {
        const only = u.scenarios.length === 1 ? (u.scenarios[0] as Scenario) : null;
        const hook = only ? options.guestHooks?.[only.id] : undefined;
        return {
          unit: u.id,
          object: objectOfUnit(u),
          // every program is verified; in a guest every schedule step runs unless the pipeline said verify-only
          plan: writePlan({
            scenarios: u.scenarios,
            runSteps: Object.fromEntries(u.scenarios.map((s) => [s.id, lane.stepsOf.get(s.id) ?? []])),
            expectedRefused: lane.refused,
            keepMaps: new Set(options.keepMaps ?? []),
            keepOwners: new Set(options.keepOwners ?? []),
          }),
          hook: hook && only ? { kind: hook, scenarioId: only.id } : null,
          settle: u.scenarios.some((s) => splatting.has(s.id)),
          memoryPasses: only && measured(options, only) ? (options.memoryPasses ?? 0) : 0,
        };
      }),
    });
    const r = await bootVm({
      vmlinuz: lane.image.vmlinuz,
      initrd,
      workDir: options.workDir,
      name: batchId,
      accel: lane.accel,
      cpus: lane.cpus,
      memoryMb: options.memoryMb ?? 1024,
      bootTimeoutMs: options.bootTimeoutMs ?? 120_000,
      caseTimeoutMs: options.caseTimeoutMs ?? 120_000,
      signal: lane.signal,
    });
    const channel = parseChannel(r.channel);
    const stats = { boot, cases: now.length, bootMs: r.bootMs, wallMs: r.wallMs, accel: lane.accel };
    // A guest that dies before its first unit has met no scenario yet: an emulator fault (with multi-threaded TCG
    // 1 boot in 50 died early, see qemuArgs) is not the cases' doing. Boot again once before blaming them.
    if (channel.cases.length === 0 && earlyDeaths++ < EARLY_DEATH_RETRIES) {
      options.onBoot?.({ ...stats, decided: 0 });
      continue;
    }
    const settled = settleBoot(
      units,
      {
        channel,
        splats: consoleSplats(r.console),
        unclosed: unclosedScenarios(r.console),
        timedOut: r.timedOut,
        consoleLog: r.consoleLog,
      },
      lane.kernel,
    );
    for (const o of settled.observations) lane.decided(o);
    options.onBoot?.({ ...stats, decided: settled.observations.length });
    pending = [...settled.remaining, ...later];
    isolate = new Set(settled.isolate);
  }
}

async function isExecutable(path: string): Promise<boolean> {
  return access(path, constants.X_OK).then(
    () => true,
    () => false,
  );
}
