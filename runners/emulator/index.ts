/**
 * The emulator runner: the same scenarios and Observation shape as the host runner, with no kernel and no privileges.
 * Objects are built as for the other runners (direct or clang), loaded by the emulator's loader, verified by the
 * verifier model of one kernel profile (emulator/verifier, specs/profiles), and the accepted programs of each
 * schedule run on the emulated machine (emulator/machine). A fault of an accepted program is reported as the kernel
 * would report an Oops: a splat, and the scenario's later steps do not run.
 */
import { readFile } from 'node:fs/promises';
import { KptrError } from '../../errors/KptrError.ts';
import { loadObject } from '../../emulator/loader/loadObject.ts';
import type { BpfObjectSpec } from '../../emulator/loader/objectSpec.ts';
import { Machine } from '../../emulator/machine/Machine.ts';
import { MachineFault } from '../../emulator/memory/AddressSpace.ts';
import { verifierProgram } from '../../emulator/verifier/fromLoader.ts';
import { type Profile, type ProfileName, loadProfile, withFeatures } from '../../emulator/verifier/profile.ts';
import { verifyProgram } from '../../emulator/verifier/verify.ts';
import { parseKernelVersion } from '../../specs/versionRange.ts';
import { E2BIG, EEXIST, EINVAL, ENOENT, ENOSPC, ENOTSUPP } from '../../emulator/machine/MapStore.ts';
import { PERCPU_MAP_TYPES, SLOT_VALUE_SUM_OFF } from '../../cabi/slotMap.ts';
import type {
  KernelInfo, MapBatchOpKind, MapOpKind, MapOpResult, MapOpStep, NotRun, Observation, ProgramObservation, RunnerCapabilities, RunObservation, Scenario, Splat,
} from '../../types/index.ts';
import { buildObject, type Codegen } from '../../compile/buildObject.ts';
import { scenarioKfuncs } from '../../compile/codegen/scenarioKfuncs.ts';
import { packBatches } from '../../compile/codegen/packBatches.ts';
import { MAP_OPS_NOT_RUN, mapOpFlags, mapOpSum, rejectionSummary } from '../harnessProtocol.ts';
import { writeObject } from '../../compile/object/writeObject.ts';
import type { RunCase, Runner, RunHooks } from '../runner.ts';
import { inSlotMap, stepRuns } from '../../types/index.ts';
import { EmulatorPool } from './pool.ts';

export interface EmulatorRunnerOptions {
  /** the kernel profile to emulate (specs/profiles); default the host's build, 6.18.44 */
  readonly kernel?: ProfileName;
  /** CPUs of the emulated machine; default 2 */
  readonly nrCpus?: number;
  /** how objects are made; default 'direct' (no clang needed) */
  readonly codegen?: Codegen;
  /** where clang's objects are written (codegen 'clang' only) */
  readonly workDir: string;
  /** scenarios per object; default 100 */
  readonly maxPerBatch?: number;
  /** profile features set otherwise, from a real kernel's divergence probes (cli/divergenceProbes.ts probedFeatures) */
  readonly features?: Readonly<Record<string, boolean>>;
  /**
   * worker threads that build, verify and run the objects (direct codegen only), so a campaign's other stages keep
   * this thread; default 0: all in this thread. Observations come back in the same order either way.
   */
  readonly threads?: number;
}

export const DEFAULT_EMULATOR_KERNEL: ProfileName = '6.18.44';

/** A lookup by name in a list of each object, built on first use (objects hold hundreds; the first of a name counts). */
function byName<T extends { readonly name: string }>(list: (obj: BpfObjectSpec) => readonly T[]): (obj: BpfObjectSpec, name: string) => T | undefined {
  const cache = new WeakMap<BpfObjectSpec, ReadonlyMap<string, T>>();
  return (obj, name) => {
    let index = cache.get(obj);
    if (index === undefined) {
      const m = new Map<string, T>();
      for (const x of list(obj)) if (!m.has(x.name)) m.set(x.name, x);
      cache.set(obj, (index = m));
    }
    return index.get(name);
  };
}

const programOf = byName((obj) => obj.programs);
/** the object's own maps (not .bss and the like), as userspace names them */
const userMapOf = byName((obj) => obj.maps.filter((m) => m.internal === null));

/**
 * What the emulator says about one scenario's programs, as the harness would print them, and the loads of each
 * accepted program that the kernel would rewrite to BPF_PROBE_MEM (Machine.probeMem).
 */
export function verifyScenario(obj: BpfObjectSpec, s: Scenario, profile: Profile, objKfuncsKnown: boolean): { programs: ProgramObservation[]; unsupported: string | null; probeMem: Map<string, readonly number[]> | null } {
  // the harness refuses a scenario whose kfuncs the kernel lacks as libbpf refuses an unresolved strong extern; the
  // object's externs include every kfunc its scenarios call, so when the kernel has them all no scenario is walked
  const missing = objKfuncsKnown ? undefined : scenarioKfuncs(s).find((k) => !profile.kfuncs.includes(k));
  const refusal = profile.messages.kfunc_missing!;
  const programs: ProgramObservation[] = [];
  // made for the few scenarios with a load to rewrite (a Map per scenario was a share of the runner's garbage)
  let probeMem: Map<string, readonly number[]> | null = null;
  for (const p of s.programs) {
    const t0 = process.hrtime.bigint();
    if (missing !== undefined) {
      const log = `libbpf: extern (func ksym) '${missing}': not found in kernel or module BTFs\n`;
      programs.push({ program: p.name, verdict: 'rejected', stage: 'libbpf', errno: refusal.errnoNumber, errnoName: refusal.errno, log, summary: rejectionSummary(p.name, p.progType, refusal.errno, log), loadNs: 0 });
      continue;
    }
    const spec = programOf(obj, p.name);
    if (spec === undefined) return { programs, unsupported: `program ${p.name} is not in the object`, probeMem };
    const r = verifyProgram(verifierProgram(obj, spec), profile);
    const loadNs = Number(process.hrtime.bigint() - t0);
    if (r.verdict === 'unsupported') return { programs, unsupported: `${p.name}: ${r.reason} (insn ${r.insn})`, probeMem };
    if (r.verdict === 'accepted' && r.probeMem.length > 0) (probeMem ??= new Map()).set(p.name, r.probeMem);
    programs.push(r.verdict === 'accepted'
      ? { program: p.name, verdict: 'accepted', loadNs }
      : { program: p.name, verdict: 'rejected', stage: r.stage, errno: r.errno, errnoName: r.errnoName, log: r.log, summary: rejectionSummary(p.name, p.progType, r.errnoName, r.log), loadNs });
  }
  return { programs, unsupported: null, probeMem };
}

/** whether the profile's kernel has every kfunc extern of the object (verifyScenario's objKfuncsKnown) */
function hasAllKfuncs(obj: BpfObjectSpec, profile: Profile): boolean {
  for (const k of obj.kfuncs) if (!profile.kfuncs.includes(k.name)) return false;
  return true;
}

/** `machine` with the verifier's BPF_PROBE_MEM rewrites of these programs applied */
function probed(machine: Machine, probeMem: ReadonlyMap<string, readonly number[]> | null): Machine {
  if (probeMem !== null) for (const [program, insns] of probeMem) machine.probeMem(program, insns);
  return machine;
}

/** whether the verifier accepted `program` (a scenario has a few programs: a scan, no Set per scenario) */
function isAccepted(programs: readonly ProgramObservation[], program: string): boolean {
  for (const p of programs) if (p.program === program) return p.verdict === 'accepted';
  return false;
}

/** errno names of what MapStore returns (the harness prints the kernel's own) */
const MAP_ERRNO_NAMES: Readonly<Record<number, string>> = { [ENOENT]: 'ENOENT', [E2BIG]: 'E2BIG', [EEXIST]: 'EEXIST', [EINVAL]: 'EINVAL', [ENOTSUPP]: 'ENOTSUPP', [ENOSPC]: 'ENOSPC' };

/**
 * A harness `mapop` line on the machine, from the line's last three words (harnessProtocol mapOpPlanArgs): the
 * value the harness passes (`sum` in the first 8 bytes of every CPU's copy, of every key's element for a batch) and
 * what it prints (the errno name, a lookup's 8-byte words per copy as decimal strings, a batch's count and keys).
 */
export function machineMapOp(machine: Machine, obj: BpfObjectSpec, map: string, op: MapOpKind, what: string, flags: number, sum: bigint): Omit<MapOpResult, 'step' | 'mapOp' | 'mapType'> {
  // `what` is a key, a batch lookup's count, or a batch update's or delete's keys
  if (!isBatch(op) || op.startsWith('lookup')) return mapOpOn(machine, obj, map, op, Number(what), NO_KEYS, flags, BigInt.asUintN(64, sum));
  const keys = what === '-' ? NO_KEYS : what.split(',').map(Number);
  return mapOpOn(machine, obj, map, op, keys.length, keys, flags, BigInt.asUintN(64, sum));
}

const NO_KEYS: readonly number[] = [];
/** what a map operation that writes no value passes (a value buffer per lookup or delete was never read) */
const NO_VALUE = new Uint8Array(0);

function isBatch(op: MapOpKind): op is MapBatchOpKind {
  return op === 'update_batch' || op === 'delete_batch' || op === 'lookup_batch' || op === 'lookup_and_delete_batch';
}

/**
 * machineMapOp's operation from its parts: `n` is the key of an element operation, a batch update's or delete's
 * number of keys, or a batch lookup's room; `sum` is a u64.
 */
function mapOpOn(machine: Machine, obj: BpfObjectSpec, map: string, op: MapOpKind, n: number, keys: readonly number[], flags: number, sum: bigint): Omit<MapOpResult, 'step' | 'mapOp' | 'mapType'> {
  const spec = userMapOf(obj, map);
  const copies = spec !== undefined && PERCPU_MAP_TYPES.has(spec.type) ? machine.nrCpus : 1;
  const stride = ((spec?.valueSize ?? 0) + 7) & ~7;
  let value = NO_VALUE;
  if (op === 'update' || op === 'update_batch') {
    value = new Uint8Array(stride * copies * Math.max(1, keys.length));
    // a DataView only for the ops that pass a value (making one cost a visible share of every map op)
    const view = new DataView(value.buffer);
    for (let c = 0; c < value.byteLength / stride; c++) view.setBigUint64(c * stride + SLOT_VALUE_SUM_OFF, sum, true);
  }
  if (isBatch(op)) {
    const r = machine.mapBatch(map, op, keys, value, n, flags);
    // the harness prints what a lookup copied, and only then its keys
    if (r.keys.length === 0) return { err: errName(r.errno), value: null, count: r.count };
    const copies: string[][] = [];
    for (const v of r.values) copyWords(v, stride, copies);
    return { err: errName(r.errno), value: copies, count: r.count, keys: r.keys };
  }
  const r = machine.mapElem(map, op, n, value, flags);
  return { err: errName(r.errno), value: r.value === null ? null : copyWords(r.value, stride, []) };
}

/** `out` with the copies of `bytes` (`stride` bytes each) appended, each as its 8-byte words in decimal */
function copyWords(bytes: Uint8Array, stride: number, out: string[][]): string[][] {
  const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  for (let c = 0; c < Math.floor(bytes.byteLength / stride); c++) {
    const copy: string[] = [];
    for (let w = 0; w < stride / 8; w++) {
      // a word below 2^32 (most are) printed from its number, no BigInt: the same decimal
      const at = c * stride + w * 8;
      copy.push(v.getUint32(at + 4, true) === 0 ? String(v.getUint32(at, true)) : v.getBigUint64(at, true).toString());
    }
    out.push(copy);
  }
  return out;
}

const errName = (errno: number): string | null => (errno === 0 ? null : (MAP_ERRNO_NAMES[errno] ?? `errno ${errno}`));

/** The step's operation as the harness would do it (the same numbers mapOpPlanArgs writes, not parsed back from text). */
function mapOpOnMachine(machine: Machine, obj: BpfObjectSpec, s: Scenario, st: MapOpStep, step: number): MapOpResult {
  let home: Scenario['slots'][number]['home'] | undefined;
  for (const x of s.slots) if (x.name === st.slot) { home = x.home; break; }
  const keys = 'keys' in st ? st.keys : NO_KEYS;
  const n = 'key' in st ? st.key : 'count' in st ? st.count : keys.length;
  const r = mapOpOn(machine, obj, st.slot, st.mapOp, n, keys, mapOpFlags(st), mapOpSum(st));
  return { step, mapOp: st.mapOp, mapType: home?.kind === 'map' ? home.mapType : 'array', ...r };
}

/** the globals of every run of a scenario that has none: one object (observations are data that nothing writes) */
const NO_GLOBALS: Readonly<Record<string, string>> = Object.freeze({});

/** Every named global as the harness prints it (0 for one the machine does not have). */
function globalsOf(machine: Machine, names: readonly string[]): Readonly<Record<string, string>> {
  if (names.length === 0) return NO_GLOBALS;
  // the machine's answer has every name, in this order: filled in where it has no value, not copied
  const g = machine.globals(names);
  for (const n of names) g[n] ??= '0';
  return g as Record<string, string>;
}

/** The schedule of one scenario on the machine: accepted programs only; a fault ends the scenario like an Oops. */
function runSchedule(machine: Machine | null, obj: BpfObjectSpec, s: Scenario, programs: readonly ProgramObservation[], execute: boolean): { runs: RunObservation[]; mapOps: MapOpResult[]; notRun: NotRun[]; splats: Splat[] } {
  const runs: RunObservation[] = [];
  const mapOps: MapOpResult[] = [];
  const notRun: NotRun[] = [];
  const splats: Splat[] = [];
  const names = s.globals.map((g) => g.name);
  for (let step = 0; step < s.schedule.length; step++) {
    const st = s.schedule[step]!;
    // the machine ends an RCU grace period after every run (Machine.run), so an explicit one adds nothing
    if ('grace_period' in st) continue;
    if ('owner_exit' in st) {
      if (execute && machine !== null && splats.length === 0) {
        const freed = machine.ownerExit();
        splats.push(...freed.map((why): Splat => ({ kind: 'bug', text: `BUG: emulated fault while freeing the owner's storage: ${why}`, during: null })));
      }
      continue;
    }
    if ('free_maps' in st) {
      // no later step can run into a freed map: free_maps is the schedule's last (checkScenarioRefs)
      if (execute && machine !== null && splats.length === 0) {
        const freed = machine.freeMaps(s.slots.filter((x) => inSlotMap(x.home)).map((x) => x.name));
        splats.push(...freed.map((why): Splat => ({ kind: 'bug', text: `BUG: emulated fault while freeing the maps: ${why}`, during: null })));
      }
      continue;
    }
    if ('mapOp' in st) {
      const why = !execute || machine === null ? 'verify only' : splats.length > 0 ? 'an earlier run oopsed' : null;
      if (why !== null) {
        if (!notRun.some((n) => n.program === MAP_OPS_NOT_RUN)) notRun.push({ program: MAP_OPS_NOT_RUN, reason: why });
      } else mapOps.push(mapOpOnMachine(machine!, obj, s, st, step));
      continue;
    }
    // the machine runs one program at a time: a concurrent step's runs one after the other, in their order (one of
    // the interleavings Prediction.outcomes allows; the emulator explores no other), its globals read after both
    const concurrent = 'concurrent' in st;
    const ran: (Omit<RunObservation, 'globals'> & { globals: RunObservation['globals'] })[] | null = concurrent ? [] : null;
    for (const rs of stepRuns(st)) {
      const why = !execute || machine === null ? 'verify only'
        : splats.length > 0 ? 'an earlier run oopsed'
        : !isAccepted(programs, rs.program) ? 'not loaded (rejected)'
        : rs.cpu >= machine.nrCpus ? `cpu ${rs.cpu} does not exist (nr_cpus=${machine.nrCpus})` : null;
      if (why !== null) { notRun.push({ program: rs.program, reason: why }); continue; }
      for (let iteration = 0; iteration < rs.repeat; iteration++) {
        const t0 = process.hrtime.bigint();
        const r = machine!.run(rs.program, rs.cpu);
        const runNs = Number(process.hrtime.bigint() - t0);
        if (r.outcome === 'fault') {
          const o = r.oops;
          splats.push({ kind: 'oops', text: `BUG: emulated fault in ${o.program} at insn ${o.insn}${o.address === null ? '' : `, address ${o.address}`}: ${o.why}`, during: o.program });
          break;
        }
        const run = { step, iteration, program: rs.program, cpu: rs.cpu, err: null, retval: r.retval, runNs, globals: concurrent ? {} : globalsOf(machine!, names) };
        (ran ?? runs).push(run);
      }
    }
    if (ran !== null && ran.length > 0) {
      const globals = globalsOf(machine!, names);
      for (const r of ran) {
        r.globals = globals;
        runs.push(r);
      }
    }
  }
  return { runs, mapOps, notRun, splats };
}

/** whether the schedule has a map op or a run of an accepted program: only then is the object's machine made */
function needsMachine(s: Scenario, programs: readonly ProgramObservation[]): boolean {
  for (const st of s.schedule) {
    if ('mapOp' in st) return true;
    for (const r of stepRuns(st)) if (isAccepted(programs, r.program)) return true;
  }
  return false;
}

/** The observations of one batch: its object built, each scenario verified and run (in-process, or in a pool thread). */
export type ObserveBatch = (batch: readonly Scenario[], plans: ReadonlyMap<string, RunCase['plan']>) => Promise<Observation[]>;

/** What the runner knows of the emulated kernel (its probe's answer). */
function emulatedKernel(options: EmulatorRunnerOptions): { profile: Profile; kernel: KernelInfo } {
  const profile = withFeatures(loadProfile(options.kernel ?? DEFAULT_EMULATOR_KERNEL), options.features ?? {});
  const nrCpus = options.nrCpus ?? 2;
  return { profile, kernel: { release: `${profile.release} (emulated)`, version: parseKernelVersion(profile.release), nrCpus, machine: 'emulator' } };
}

/** The runner's work on one batch, in this thread: runners/emulator/pool.ts runs the same in worker threads. */
export function batchObserver(options: EmulatorRunnerOptions): ObserveBatch {
  const { profile, kernel } = emulatedKernel(options);
  const nrCpus = kernel.nrCpus;
  const codegen = options.codegen ?? 'direct';
  let batchSeq = 0;

  const objectOf = async (batch: readonly Scenario[]): Promise<BpfObjectSpec> => {
    const bytes = codegen === 'direct'
      ? writeObject(batch)
      : await readFile(await buildObject(batch, codegen, options.workDir, `emu-${process.pid}-${batchSeq++}`));
    return loadObject(bytes, { rodata: { nr_cpus: nrCpus } });
  };

  /** One scenario of a loaded object; the machine is the object's (scenarios of one object have disjoint maps, as in the harness). */
  const observe = (obj: BpfObjectSpec, kfuncsKnown: boolean, machine: () => Machine, s: Scenario, execute: boolean): Observation => {
    const v = verifyScenario(obj, s, profile, kfuncsKnown);
    if (v.unsupported !== null) {
      return { scenarioId: s.id, runner: 'emulator', kernel, skipped: null, error: { code: 'KPTR_EMULATOR_UNSUPPORTED', message: v.unsupported }, programs: v.programs, runs: [], mapOps: [], notRun: [], splats: [] };
    }
    const r = execute && needsMachine(s, v.programs) ? runSchedule(probed(machine(), v.probeMem), obj, s, v.programs, true) : runSchedule(null, obj, s, v.programs, false);
    // the Observation field by field, in its order (spreads of a base and the runs cost a share of every case)
    return { scenarioId: s.id, runner: 'emulator', kernel, skipped: null, error: null, programs: v.programs, runs: r.runs, mapOps: r.mapOps, notRun: r.notRun, splats: r.splats };
  };

  /** The scenarios of one object: verified one by one, run on one machine created when first needed. */
  const observeAll = (obj: BpfObjectSpec, batch: readonly Scenario[], plans: ReadonlyMap<string, RunCase['plan']>): Observation[] => {
    const held: { m: Machine | null } = { m: null };
    const machine = (): Machine => (held.m ??= Machine.load(obj, { nrCpus, htabDeleteKeepsKptr: profile.features.htab_delete_keeps_percpu_kptr, arrayUpdateKeepsKptr: profile.features.array_update_keeps_percpu_kptr }));
    const kfuncsKnown = hasAllKfuncs(obj, profile);
    const observations = batch.map((s) => observe(obj, kfuncsKnown, machine, s, plans.get(s.id)?.execute ?? true));
    try {
      held.m?.free();
    } catch (e) {
      if (!(e instanceof MachineFault)) throw e;
      // freeing the maps faulted (a kptr field holding what its destructor cannot free): the kernel logs that from
      // an RCU callback, naming no program; it goes to the scenarios expected to splat, else to all of the object's
      const splat: Splat = { kind: 'bug', text: `BUG: emulated fault while freeing the maps: ${e.why}`, during: null };
      const blamed = batch.some((s) => plans.get(s.id)?.expectSplat) ? new Set(batch.filter((s) => plans.get(s.id)?.expectSplat).map((s) => s.id)) : null;
      return observations.map((o) => (blamed === null || blamed.has(o.scenarioId) ? { ...o, splats: [...o.splats, splat] } : o));
    }
    return observations;
  };

  return async (all, plans) => (all.length === 0 ? [] : await observeBatch(all, plans));

  async function observeBatch(batch: readonly Scenario[], plans: ReadonlyMap<string, RunCase['plan']>): Promise<Observation[]> {
    let obj: BpfObjectSpec | null = null;
    try {
      obj = await objectOf(batch);
    } catch (e) {
      if (!(e instanceof KptrError) || batch.length === 1) throw e;
    }
    // an object that cannot be built is retried one scenario at a time, so one bad scenario decides only itself
    return obj !== null ? observeAll(obj, batch, plans) : await Promise.all(batch.map((s) => objectOf([s]).then(
      (one) => observeAll(one, [s], plans)[0]!,
      (e: unknown): Observation => {
        if (!(e instanceof KptrError)) throw e;
        return { scenarioId: s.id, runner: 'emulator', kernel, skipped: null, error: { code: e.code, message: e.message }, programs: [], runs: [], mapOps: [], notRun: [], splats: [] };
      },
    )));
  }
}

export function createEmulatorRunner(options: EmulatorRunnerOptions): Runner {
  const { kernel } = emulatedKernel(options);
  const threads = (options.codegen ?? 'direct') === 'direct' ? options.threads ?? 0 : 0;
  let inProcess: ObserveBatch | null = null;
  let pool: EmulatorPool | null = null;

  const probe = async (): Promise<RunnerCapabilities> => {
    const ok = { ok: true, reason: null };
    return { runner: 'emulator', kernel, progTypes: { tc: ok, syscall: ok, fentry: ok, 'fentry.s': ok }, problems: [] };
  };

  const run = async (cases: readonly RunCase[], hooks?: RunHooks): Promise<Observation[]> => {
    // filled by a loop: a Map made from a list of pairs is a pair per case
    const plans = new Map<string, RunCase['plan']>();
    for (const c of cases) plans.set(c.scenario.id, c.plan);
    const out = new Map<string, Observation>();
    const batches = packBatches(cases.map((c) => c.scenario), options.maxPerBatch ?? 100);
    const deliver = (observations: readonly Observation[]): void => {
      for (const o of observations) {
        out.set(o.scenarioId, o);
        hooks?.onObservation?.(o);
      }
    };
    if (threads > 0 && batches.length > 1) {
      await (pool ??= new EmulatorPool(options, threads)).observe(batches, plans, deliver, hooks?.signal);
    } else {
      const observe = (inProcess ??= batchObserver(options));
      for (const batch of batches) {
        hooks?.signal?.throwIfAborted();
        deliver(await observe(batch, plans));
      }
      hooks?.signal?.throwIfAborted();
    }
    return cases.map((c) => out.get(c.scenario.id)!);
  };

  return { name: 'emulator', probe, run };
}
