import type {
  KernelInfo,
  MapOpKind,
  MapOpResult,
  MapOpStep,
  MemoryObservation,
  NotRun,
  Observation,
  ProgramObservation,
  ProgType,
  RejectStage,
  RunnerName,
  RunObservation,
  RunPlan,
  Scenario,
} from '../types/index.ts';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { BPF_F_LOCK, MAP_UPDATE_FLAG_VALUES } from '../cabi/slotMap.ts';
import { logLines, upToReport } from '../bpf/verifierLog.ts';
import { scenarioKfuncs } from '../compile/codegen/scenarioKfuncs.ts';
import { decodeEvents, type HarnessEvent } from './harnessEvents.ts';
import { inSlotMap, isLocalStorage, isRunStep, mapOpLock } from '../types/index.ts';

/**
 * The text side of the native harness protocol (ARCHITECTURE.md, "The harness protocol"): the plan we write and the
 * JSON lines we read back. Pure: no files, no processes; the host and VM runners share it.
 */

/** Where scripts/build-harness.sh builds the static harness (runners/native/harness.c): both runners run it. */
export const DEFAULT_HARNESS_PATH = join(dirname(fileURLToPath(import.meta.url)), 'native', 'harness');

/** The programs of `scenarios` their plans do not expect the kernel to accept (PlanBatch.expectedRefused). */
export function expectedRefused(scenarios: readonly Scenario[], plans: ReadonlyMap<string, RunPlan>): Set<string> {
  return new Set(scenarios.flatMap((s) => {
    const accepted = new Set(plans.get(s.id)?.expectedAccepted ?? []);
    return s.programs.filter((p) => !accepted.has(p.name)).map((p) => p.name);
  }));
}

/** NotRun.program of a scenario's userspace map operations that a runner held back. */
export const MAP_OPS_NOT_RUN = '(userspace map operations)';

/** One object's worth of work: the scenarios compiled into it and, per scenario, the schedule steps allowed to execute. */
export interface PlanBatch {
  readonly scenarios: readonly Scenario[];
  /** scenario id → indexes into its `schedule` that may run (others are verified only); missing id = none */
  readonly runSteps: Readonly<Record<string, readonly number[]>>;
  /**
   * programs the plan does not expect the kernel to accept (RunPlan.expectedAccepted): the harness takes their
   * verifier log at the first load instead of loading a refused program again for it
   */
  readonly expectedRefused?: ReadonlySet<string>;
  /**
   * testing only: scenarios whose `free_maps` closes the programs but no map, standing in for a kernel whose map
   * free path keeps the objects (the memory oracle's positive control)
   */
  readonly keepMaps?: ReadonlySet<string>;
  /** testing only: scenarios whose `owner_exit` keeps the old owner alive (a new one takes over), standing in for a kernel that keeps a dead owner's storage */
  readonly keepOwners?: ReadonlySet<string>;
}

/**
 * The harness plan for a batch: every program is verified, globals are declared per scenario, and the allowed
 * schedule steps run in scenario order. `prog` lines carry the scenario id so `--kmsg-markers` can attribute
 * splats raised during verification; `kfuncs` lines let the harness refuse a scenario whose kfuncs the kernel
 * lacks, as libbpf refuses an object with an unresolved strong extern.
 */
export function writePlan(batch: PlanBatch): string {
  const lines: string[] = [];
  for (const s of batch.scenarios) for (const p of s.programs) lines.push(`prog ${p.name} ${s.id}${batch.expectedRefused?.has(p.name) ? ' log' : ''}`);
  for (const s of batch.scenarios) {
    const kfuncs = scenarioKfuncs(s);
    if (kfuncs.length > 0) lines.push(`kfuncs ${s.id} ${kfuncs.join(' ')}`);
  }
  for (const s of batch.scenarios) {
    if (s.globals.length > 0) lines.push(`globals ${s.id} ${s.globals.map((g) => g.name).join(' ')}`);
  }
  for (const s of batch.scenarios) {
    const owner = ownerKind(s);
    if (owner !== null) lines.push(`owner ${s.id} ${owner}`);
    for (const i of batch.runSteps[s.id] ?? []) {
      const step = s.schedule[i];
      if (step === undefined) continue;
      if ('grace_period' in step) lines.push(`grace_period ${s.id}`);
      else if ('owner_exit' in step) lines.push(`owner_exit ${s.id}${batch.keepOwners?.has(s.id) ? ' keep' : ''}`);
      else if ('free_maps' in step) lines.push(['free_maps', s.id, ...(batch.keepMaps?.has(s.id) ? [] : mapSlots(s))].join(' '));
      else if ('concurrent' in step) lines.push(['concurrent', s.id, i, ...step.concurrent.flatMap((r) => [r.program, r.cpu])].join(' '));
      else if (!('mapOp' in step)) lines.push(`run ${s.id} ${step.program} ${step.cpu} ${step.repeat}`);
      else lines.push(`mapop ${s.id} ${i} ${step.slot} ${step.mapOp} ${mapOpPlanArgs(step).join(' ')}`);
    }
  }
  return lines.map((l) => `${l}\n`).join('');
}

/** The maps a scenario's `free_maps` closes: those of its slots kept in maps (codegen names each map after its slot). */
function mapSlots(s: Scenario): string[] {
  return s.slots.filter((x) => inSlotMap(x.home)).map((x) => x.name);
}

/**
 * The owner a scenario with local storage runs its programs in (harness `owner` line): a process of its own, in a
 * cgroup of its own when a slot lives in cgroup storage; null for a scenario without local storage.
 */
function ownerKind(s: Scenario): 'process' | 'cgroup' | null {
  if (s.slots.some((x) => x.home.kind === 'cgrp_storage')) return 'cgroup';
  return s.slots.some((x) => isLocalStorage(x.home)) ? 'process' : null;
}

/**
 * A `mapop` line's last three words: the key (a batch update or delete: its keys joined by commas, `-` for none; a
 * batch lookup: its count), the flags (elem_flags for a batch; BPF_F_LOCK or'ed in for a `lock` step) and `sum` as a
 * u64.
 */
export function mapOpPlanArgs(step: MapOpStep): [string, string, string] {
  const what = 'key' in step ? String(step.key) : 'keys' in step ? (step.keys.length === 0 ? '-' : step.keys.join(',')) : String(step.count);
  return [what, String(mapOpFlags(step)), String(mapOpSum(step))];
}

/** A map operation's flags as bpf(2) gets them: elem_flags for a batch, BPF_F_LOCK or'ed in for a `lock` step. */
export function mapOpFlags(step: MapOpStep): number {
  return (isMapWrite(step) ? MAP_UPDATE_FLAG_VALUES[step.flags] : 0) | (mapOpLock(step) ? BPF_F_LOCK : 0);
}

/** The u64 an update writes into every value's `sum` (0 for an operation that writes none). */
export function mapOpSum(step: MapOpStep): bigint {
  return isMapWrite(step) ? BigInt.asUintN(64, BigInt(step.sum)) : 0n;
}

function isMapWrite(step: MapOpStep): step is Extract<MapOpStep, { readonly sum: string }> {
  return step.mapOp === 'update' || step.mapOp === 'update_batch';
}

/** Log lines that say how verification went, not why it failed: never the summary's subject. */
/** libbpf's line after a refusal of the whole object: the refusal is the line before it. */
const LIBBPF_TRAILER = /^libbpf: failed to load object/;

/** Register-state lines only make sense with the line above them (cilium/ebpf `includePreviousLine`). */
const REGISTER_STATE = /^(\s|(frame\d+: )?R\d+\w*=)/;

/**
 * cilium-style one-liner for a rejection: `load <prog> (<type>): <ERRNO>: <last meaningful log line> (N lines omitted)`.
 * The statistics and a 7.x report after the error line (bpf/verifierLog.ts) are skipped; a register-state last line is
 * preceded by the line before it.
 */
export function rejectionSummary(program: string, progType: ProgType, errnoName: string, log: string): string {
  return `load ${program} (${progType}): ${errnoName}${logSummary(log)}`;
}

/** the summary's part from the log, per log text: a campaign meets the same few rejections over and over */
const logSummaries = new Map<string, string>();

function logSummary(log: string): string {
  const known = logSummaries.get(log);
  if (known !== undefined) return known;
  const all = logLines(log);
  const toError = upToReport(all);
  const lines = [...toError];
  while (lines.length > 0 && LIBBPF_TRAILER.test(lines[lines.length - 1] ?? '')) lines.pop();
  const last = lines[lines.length - 1];
  let summary = '';
  if (last !== undefined) {
    const shown = lines.length >= 2 && REGISTER_STATE.test(last) ? [lines[lines.length - 2] ?? '', last] : [last];
    // a 7.x report's lines count as omitted, statistics and libbpf's trailer do not
    const omitted = lines.length - shown.length + (all.length - toError.length);
    const tail = omitted > 0 ? ` (${omitted} line${omitted === 1 ? '' : 's'} omitted)` : '';
    summary = `: ${shown.map((l) => l.trim()).join(': ')}${tail}`;
  }
  // bounded: a long campaign's distinct logs (insn counts differ) must not pile up
  if (logSummaries.size >= 4096) logSummaries.clear();
  logSummaries.set(log, summary);
  return summary;
}

interface Collected {
  programs: ProgramObservation[];
  runs: RunObservation[];
  mapOps: MapOpResult[];
  notRun: NotRun[];
  /** next schedule index a run/skip event may belong to */
  cursor: number;
  /** schedule index of the run events being read */
  step: number;
  /** errno name of a grace period the harness could not wait for */
  gracePeriodErr: string | null;
  /** errno name of a `free_maps` the harness could not do */
  freeMapsErr: string | null;
  /** errno name of an `owner_exit` the harness could not do (the owner or its cgroup would not go) */
  ownerExitErr: string | null;
}

/** The schedule step a run (iteration 0) or skip event belongs to: the next one naming that program (and cpu). */
function nextStep(s: Scenario, from: number, program: string, cpu: number | null): number {
  for (let i = from; i < s.schedule.length; i++) {
    const st = s.schedule[i];
    if (st && isRunStep(st) && st.program === program && (cpu === null || st.cpu === cpu)) return i;
  }
  return -1;
}

function isTracing(t: ProgType): boolean {
  return t === 'fentry' || t === 'fentry.s';
}

/** parseHarnessEvents over a harness's output text (decodeEvents; `source` names it in a protocol error). */
export function parseHarnessOutput(text: string, scenarios: readonly Scenario[], runner: RunnerName, kernel: KernelInfo, source = 'the harness output'): Observation[] {
  return parseHarnessEvents(decodeEvents(text, source), scenarios, runner, kernel);
}

/**
 * Harness events → one Observation per scenario, in `scenarios` order. Run lines are matched to schedule steps in
 * order. If the harness died before `done`, a scenario counts as finished only when all its programs were verified
 * and a later scenario's run output already appeared; the others get `error: KPTR_HARNESS_CRASH` (their partial
 * observations are kept, so a splat can still be attributed).
 */
export function parseHarnessEvents(
  events: readonly HarnessEvent[],
  scenarios: readonly Scenario[],
  runner: RunnerName,
  kernel: KernelInfo,
): Observation[] {
  const programOwner = new Map<string, Scenario>();
  for (const s of scenarios) for (const p of s.programs) programOwner.set(p.name, s);
  const byId = new Map<string, Collected>(
    scenarios.map((s) => [s.id, { programs: [], runs: [], mapOps: [], notRun: [], cursor: 0, step: -1, gracePeriodErr: null, freeMapsErr: null, ownerExitErr: null }]),
  );
  let done = false;
  let lastActive = -1;
  let memory: MemoryObservation | undefined;

  for (const e of events) {
    if (e.ev === 'done') done = true;
    if (e.ev === 'load') {
      const s = programOwner.get(e.prog);
      const c = s && byId.get(s.id);
      const prog = s?.programs.find((p) => p.name === e.prog);
      if (!s || !c || !prog) continue;
      c.programs.push(
        e.verdict === 'accepted'
          ? { program: e.prog, verdict: 'accepted', loadNs: e.ns }
          : {
              program: e.prog,
              verdict: 'rejected',
              stage: e.stage,
              errno: e.errno,
              errnoName: e.errno_name,
              log: e.log,
              summary: rejectionSummary(e.prog, prog.progType, e.errno_name, e.log),
              loadNs: e.ns,
            },
      );
    }
    if (e.ev === 'grace_period' && e.err !== null) {
      const c = byId.get(e.scenario);
      if (c) c.gracePeriodErr ??= e.err;
      continue;
    }
    if (e.ev === 'free_maps' && e.err !== null) {
      const c = byId.get(e.scenario);
      if (c) c.freeMapsErr ??= e.err;
      continue;
    }
    if (e.ev === 'owner_exit' && e.err !== null) {
      const c = byId.get(e.scenario);
      if (c) c.ownerExitErr ??= e.err;
      continue;
    }
    if (e.ev === 'memory') {
      memory = { passes: e.iterations, percpuKbBefore: e.percpu_kb_before, percpuKbAfter: e.percpu_kb_after, percpuKb: e.percpu_kb };
      continue;
    }
    if (e.ev === 'mapop') {
      const idx = scenarios.findIndex((s) => s.id === e.scenario);
      const c = byId.get(e.scenario);
      if (idx < 0 || !c) continue;
      lastActive = Math.max(lastActive, idx);
      const home = scenarios[idx]?.slots.find((x) => x.name === (scenarios[idx]?.schedule[e.step] as MapOpStep | undefined)?.slot)?.home;
      if (home?.kind !== 'map') continue;
      c.mapOps.push({ step: e.step, mapOp: e.op, mapType: home.mapType, err: e.err, value: e.value, ...(e.count === undefined ? {} : { count: e.count }), ...(e.keys === undefined ? {} : { keys: e.keys }) });
      c.cursor = Math.max(c.cursor, e.step + 1);
      continue;
    }
    if (e.ev === 'run' || e.ev === 'skip') {
      const idx = scenarios.findIndex((s) => s.id === e.scenario);
      const s = scenarios[idx];
      const c = s && byId.get(s.id);
      if (!s || !c) continue;
      lastActive = Math.max(lastActive, idx);
      if (e.step !== undefined) {
        // a run (or skip) of a concurrent step names its step
        c.cursor = Math.max(c.cursor, e.step + 1);
        c.step = e.step;
      }
      if (e.ev === 'skip') {
        const i = e.step ?? nextStep(s, c.cursor, e.prog, null);
        if (i >= 0) c.cursor = i + 1;
        c.notRun.push({ program: e.prog, reason: e.reason });
        continue;
      }
      if (e.step === undefined && (e.iter === 0 || c.step < 0)) {
        c.step = nextStep(s, c.cursor, e.prog, e.cpu);
        if (c.step >= 0) c.cursor = c.step + 1;
      }
      const progType = s.programs.find((p) => p.name === e.prog)?.progType;
      c.runs.push({
        step: c.step,
        iteration: e.iter,
        program: e.prog,
        cpu: e.cpu,
        err: e.err,
        retval: progType && isTracing(progType) ? null : e.retval,
        globals: Object.fromEntries(
          Object.entries(e.globals).filter((kv): kv is [string, string] => kv[1] !== null),
        ),
        runNs: e.ns,
      });
    }
  }

  return scenarios.map((s, idx) => {
    const c = byId.get(s.id) as Collected;
    const allLoaded = s.programs.every((p) => c.programs.some((o) => o.program === p.name));
    const finished = done || (allLoaded && idx < lastActive);
    return {
      scenarioId: s.id,
      runner,
      kernel,
      skipped: null,
      error: !finished
        ? {
            code: 'KPTR_HARNESS_CRASH',
            message: `the harness exited before finishing scenario ${s.id} (${c.programs.length}/${s.programs.length} programs verified, ${c.runs.length} runs)`,
          }
        // the runs after it did not have the history the schedule asks for: what they read proves nothing
        : c.gracePeriodErr !== null
          ? { code: 'KPTR_GRACE_PERIOD_FAILED', message: `scenario ${s.id}: membarrier(MEMBARRIER_CMD_GLOBAL) failed with ${c.gracePeriodErr}: the kernel cannot wait for an RCU grace period from userspace (nohz_full CPUs?)` }
          : c.freeMapsErr !== null
            ? { code: 'KPTR_FREE_MAPS_FAILED', message: `scenario ${s.id}: closing its programs and maps failed with ${c.freeMapsErr}` }
            // the runs after it did not start with a fresh owner's storage
            : c.ownerExitErr !== null
              ? { code: 'KPTR_OWNER_EXIT_FAILED', message: `scenario ${s.id}: ending the owner of its local storage (its process, its cgroup) failed with ${c.ownerExitErr}` }
              : null,
      programs: c.programs,
      runs: c.runs,
      mapOps: c.mapOps,
      notRun: c.notRun,
      splats: [],
      // the passes repeat the whole unit: only a unit of one scenario says something about that scenario
      ...(memory !== undefined && scenarios.length === 1 ? { memory } : {}),
    };
  });
}
