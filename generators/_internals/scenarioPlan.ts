import fc from 'fast-check';
import type {
  GlobalVar, Intent, MapOpStep, ProgType, Program, RunStep, Scenario, ScheduleStep, Slot, StatePairTarget, StructType,
} from '../../types/index.ts';
import { inSlotMap, isLocalStorage, isSleepable } from '../../types/index.ts';
import { ALL_LOCAL_STORAGES, kptrHome, type KptrHomeConstraints } from '../kptrHome.ts';
import { mapOpStep } from '../mapOpStep.ts';
import { progType } from '../progType.ts';
import { structType, type StructSpecialMember } from '../structType.ts';
import { NEW_STRUCT_RULES } from './breakVariants.ts';
import { raceProgram, type RaceKind } from './raceProgram.ts';
import { percpuAllocatable, scalarFieldPaths, structSize } from './structLayout.ts';
import { buildProgram, type BreakPlan } from './ProgramBuilder.ts';
import type { ProgramContext } from './SequenceState.ts';
import { targetNeedsKptrSlot } from './targetPairs.ts';
import { hasSpinLock, SPIN_LOCK_MAP_TYPES } from '../../cabi/slotMap.ts';
import { structLayout } from '../../cabi/structLayout.ts';
import { memoised } from './memoised.ts';
import * as d from './drawing.ts';
import { Drawing, type DrawingArbitrary } from './DrawingArbitrary.ts';
import { record } from './record.ts';

/** Resolved scenario options (every field set). */
export interface ScenarioSettings {
  readonly progTypes: readonly ProgType[];
  readonly homes: KptrHomeConstraints;
  /** how many userspace map operations a schedule may hold (0: none) */
  readonly maxMapOps: number;
  readonly maxPrograms: number;
  readonly maxOps: number;
  readonly nrCpus: number;
  readonly size: fc.SizeForArbitrary | undefined;
  readonly historyFreq: number;
  readonly freeMapsFreq: number;
  readonly concurrentFreq: number;
  readonly ownerExitFreq: number;
}

/** A break placed in the scenario: rule, program (modulo the program count), step, variant. */
interface PlacedBreak {
  readonly rule: string;
  readonly prog: number;
  readonly at: number;
  readonly variant: number;
}

/** Everything a scenario is built from: plain data fast-check generates and shrinks. */
interface ScenarioPlan {
  readonly inner: StructType | null;
  readonly pointees: readonly StructType[];
  readonly bad: readonly (readonly StructType[])[];
  readonly slots: readonly { readonly home: Slot['home']; readonly pointee: number; readonly plain: boolean }[];
  readonly programs: readonly { readonly progType: ProgType; readonly choices: readonly number[] }[];
  readonly base: readonly { readonly cpu: number; readonly repeat: number }[];
  readonly extra: readonly { readonly prog: number; readonly cpu: number; readonly repeat: number }[];
  /** the history tail (ScenarioShapeConstraints.historyFreq): a grace period, then program `prog` twice on `cpu` */
  readonly history: { readonly prog: number; readonly cpu: number } | null;
  readonly breaks: readonly PlacedBreak[];
  /** userspace map operations, each inserted at schedule index `at` (modulo the schedule's length + 1) */
  readonly mapOps: readonly { readonly at: number; readonly op: MapOpStep }[];
  /** the schedule ends by freeing the maps (where every slot lives in one) */
  readonly freeMaps: boolean;
  /** race programs and a concurrent step (ScenarioShapeConstraints.concurrentFreq) */
  readonly concurrent: ConcurrentPlan | null;
  /** per slot: its value also holds a bpf_spin_lock, where the map type allows one (KptrHome.spinLock) */
  readonly spinLocks: readonly boolean[];
  /** an owner_exit step at schedule index `at` (modulo the schedule's length + 1), where a slot lives in local storage */
  readonly ownerExit: number | null;
}

/** Two programs run at once on CPUs 0 and 1 (`swapCpus`: the other way round), racing on one slot. */
interface ConcurrentPlan {
  /** which pair races: an index into RACE_PAIRS, or past its end the first race program against scenario program `other` */
  readonly pair: number;
  readonly other: number;
  readonly progType: 'tc' | 'syscall';
  readonly swapCpus: boolean;
  /** the CPU whose copy `swap` writes and the reader reads */
  readonly cpu: number;
}

/** The races (raceProgram.ts): two xchg of one slot, drop against new, two sums into one global, a sum against a swap. */
const RACE_PAIRS: readonly (readonly [RaceKind, RaceKind])[] = [['swap', 'swap'], ['swap', 'take'], ['sum', 'sum'], ['swap', 'sum']];

const UNTRUSTED_OWNER = 'local_storage.untrusted_owner';
const NON_GPL = 'kfunc.non_gpl';
const GPL_ONLY = 'helper.gpl_only';

/**
 * The rules a scenario can break with the kptr homes `s` allows: an untrusted owner needs a cgroup storage slot, a
 * GPL-only helper a task storage slot.
 */
export function breakableWith(rules: readonly string[], s: ScenarioSettings): string[] {
  const storages = s.homes.localStorages ?? ALL_LOCAL_STORAGES;
  return rules.filter((r) => (r !== UNTRUSTED_OWNER || storages.includes('cgrp_storage')) && (r !== GPL_ONLY || storages.includes('task_storage')));
}

/** slot names of the plan, before assemble names them: `m<i>` */
const PLAN_SLOTS = ['m0', 'm1'];

/** What the rules being broken need from the scenario's structs and slots. */
interface Needs {
  readonly twoStructs: boolean;
  readonly kptrSlot: boolean;
  /** a cgroup storage slot, looked up by a sleepable program (local_storage.untrusted_owner) */
  readonly cgrpSlot: boolean;
  /** a task storage slot, which any program looks up (helper.gpl_only) */
  readonly taskSlot: boolean;
  /** the percpu_obj_new.* rules that need a refused struct, in order */
  readonly badRules: readonly string[];
}

function needsOf(rules: readonly string[], targetNeedsKptr = false): Needs {
  return {
    twoStructs: rules.includes('kptr_xchg.type_mismatch'),
    kptrSlot: rules.includes('kptr_xchg.type_mismatch') || targetNeedsKptr,
    cgrpSlot: rules.includes(UNTRUSTED_OWNER),
    taskSlot: rules.includes(GPL_ONLY),
    badRules: rules.filter((r) => NEW_STRUCT_RULES.includes(r)),
  };
}

/** Id of every generated scenario until prefixScenario renames it (`case` would be a C keyword, refused by the schema). */
export const GENERATED_ID = 'gen';

const INNER = 'in0';
/** `p<i>`: program names, made once */
const PROGRAM_NAMES = ['p0', 'p1', 'p2', 'p3'];
const LOCK_HOLDER = 'in1';

/** A pointee of exactly 8 to 512 bytes (it nests nothing): built once per name. */
const exactSizePointee = memoised((name: string) => d.constantFrom(8, 16, 64, 256, 512).chain(memoised((size) => structType({ name, size }))));

/**
 * A small pointee that may embed the nested struct: built once per name and kind of nested struct (structType nests
 * only a scalar-only one, and only by its name, always {@link INNER}).
 */
const smallPointee = memoised((name: string) => memoised(
  (inner: StructType | null) => structType({ name, nestable: inner === null ? [] : [inner] }),
  (inner) => inner !== null && inner.members.every((m) => m.kind === 'scalar'),
));

function pointeeStruct(name: string, inner: StructType | null): fc.Arbitrary<StructType> {
  // nested arrays can push a small layout past the limit; a pointee must stay allocatable (scalars alone stay below:
  // six members of four 8-byte elements at most, so a pointee that nests nothing passes without being laid out)
  const small = smallPointee(name)(inner);
  return d.oneof(
    {},
    { arbitrary: inner === null ? small : small.filter((t) => t.members.every((m) => m.kind !== 'struct') || structSize([inner, t], name) <= 512), weight: 5 },
    { arbitrary: exactSizePointee(name), weight: 1 },
  );
}

/**
 * What a pointee arbitrary needs to know of the nested struct it may embed (pointeeStruct): its shape in bytes, and
 * whether it may be nested at all; as one number (a string key built and hashed for every scenario cost more than the
 * arbitraries it saves). The nested struct is always {@link INNER}.
 */
function nestedLayoutKey(inner: StructType): number {
  const layout = structLayout([inner], inner.name);
  return (layout.size * 16 + layout.align) * 2 + (inner.members.every((m) => m.kind === 'scalar') ? 1 : 0);
}

/**
 * The pointees t0 (and t1) next to a nested struct, at least `minLength` of them, with the trailing boolean that
 * fc.record({ inner: fc.constant(inner), pointees }) draws: the same values, the same shrinks. They depend on the
 * nested struct only through its layout (the size filter of pointeeStruct), so they are built once per layout, for
 * every plan: not for every drawn struct (a new value every time), nor for every plan (some hundred of them, each
 * meeting most layouts sooner or later). Drawn without the chain's arbitrary made per value: the two structs, the
 * count, the boolean.
 */
function pointeesNextTo(minLength: number): (inner: StructType | null) => DrawingArbitrary<[StructType[], boolean]> {
  const count = d.integer({ min: minLength, max: 2 });
  const bit = d.boolean();
  return memoised((inner: StructType | null) => {
    const both = d.tuple(pointeeStruct('t0', inner), pointeeStruct('t1', inner));
    const full = d.tuple(both.chain((ts) => count.map((n) => ts.slice(0, n))), bit);
    return new Drawing(full, (mrng, bias): [StructType[], boolean] => {
      const ts = both.draw(mrng, bias);
      return [ts.slice(0, count.draw(mrng, bias)), bit.draw(mrng, bias)];
    });
  }, (inner) => (inner === null ? null : nestedLayoutKey(inner)));
}

const ONE_OR_TWO_POINTEES = pointeesNextTo(1);
/** kptr_xchg.type_mismatch needs two structs */
const TWO_POINTEES = pointeesNextTo(2);

/** The refused struct(s) for one percpu_obj_new.* rule (a lock-holding helper first for the nested case). */
function badStructs(rule: string, name: string, pointee: string): fc.Arbitrary<StructType[]> {
  const special = (s: StructSpecialMember, nestable: StructType[] = []): fc.Arbitrary<StructType[]> =>
    structType({ name, special: s, kptrPointee: pointee, nestable }).map((t) => [...nestable, t]);
  switch (rule) {
    case 'percpu_obj_new.size_limit':
      return d.constantFrom(513, 520, 600, 1024).chain(memoised((size) => structType({ name, size }))).map((t) => [t]);
    case 'percpu_obj_new.not_scalars':
      return d.constantFrom<StructSpecialMember>('pointer', 'kptr').chain(memoised((s) => special(s)));
    case 'percpu_obj_new.special_fields':
      return special('spin_lock');
    case 'percpu_obj_new.nested_special_field': {
      // the refused struct embeds the holder by name: its arbitrary is the same for every holder drawn
      const refused = memoised((holder: StructType) => structType({ name, special: 'nested_spin_lock', kptrPointee: pointee, nestable: [holder] }), (holder) => holder.name);
      return structType({ name: LOCK_HOLDER, special: 'spin_lock' }).chain((holder) => refused(holder).map((t) => [holder, t]));
    }
    default:
      throw new Error(`scenarioPlan: ${rule} needs no refused struct`);
  }
}

/**
 * Plans breaking `rules` (none, one, or the two of a mixture, in order), for a target that needs a plain `__kptr`
 * slot or not: built once per settings and key, since a campaign aims at some 400 state pairs with every breakable
 * rule, and a plan depends on its target only through that need.
 */
function plans(s: ScenarioSettings, rules: readonly string[], target: StatePairTarget | null = null): Planned {
  const targetNeedsKptr = target !== null && targetNeedsKptrSlot(target);
  const key = `${rules.join(' ')}|${targetNeedsKptr}`;
  let cache = plansBySettings.get(s);
  if (cache === undefined) plansBySettings.set(s, (cache = new Map()));
  let plan = cache.get(key);
  if (plan === undefined) cache.set(key, (plan = planArbitrary(s, placedBreaks(rules, s), rules, targetNeedsKptr)));
  return plan;
}

const plansBySettings = new WeakMap<ScenarioSettings, Map<string, Planned>>();

/**
 * Scenarios made by `finish` from the plans: the drawn record is shaped and finished in one map (one layer of
 * context less per scenario than a map for each).
 */
type Planned = (finish: (plan: ScenarioPlan) => Scenario) => fc.Arbitrary<Scenario>;

function placedBreaks(rules: readonly string[], s: ScenarioSettings): fc.Arbitrary<PlacedBreak[]> {
  const [first] = rules;
  if (first === undefined) return d.constant([]);
  if (rules.length === 1) return placedBreak(first, s).map((b) => [b]);
  return d.tuple(...rules.map((r) => placedBreak(r, s)));
}

/**
 * The nested struct and the pointees next to it (two pointees when a break needs two structs): drawn as their chain
 * draws them (the nested struct, then the pointees), without the mapped arbitrary the chain makes for every nested
 * struct drawn (three in four scenarios). Built once per kind, for every plan.
 */
const planStructs = memoised((twoStructs: boolean) => {
  const pointeesWith = twoStructs ? TWO_POINTEES : ONE_OR_TWO_POINTEES;
  const withInner = (inner: StructType | null): fc.Arbitrary<{ inner: StructType | null; pointees: StructType[] }> =>
    pointeesWith(inner).map(([pointees]) => ({ inner, pointees }));
  const noInner = withInner(null);
  const innerStruct = d.option(structType({ name: INNER }), { freq: 4, nil: null });
  return new Drawing(innerStruct.chain((inner) => (inner === null ? noInner : withInner(inner))), (mrng, bias) => {
    const inner = innerStruct.draw(mrng, bias);
    return { inner, pointees: pointeesWith(inner).draw(mrng, bias)[0] };
  });
});

/**
 * The parts of a plan no rule changes, built once per settings: a campaign meets a few hundred rule pairs and
 * targets, whose plans would otherwise build these again (some fifty fast-check arbitraries each). The record in
 * {@link planArbitrary} draws them in its order.
 */
function buildSharedParts(s: ScenarioSettings) {
  const slotOf = (homes: KptrHomeConstraints) => record({ home: kptrHome(homes), pointee: d.nat({ max: 1 }), plain: d.boolean() });
  const slots = (homes: KptrHomeConstraints) => {
    // slot 0 is one every program may look up (break variants and targets use it): not cgroup storage, which a
    // sleepable program cannot take validly (ProgramBuilder.validLookup) unless the break is about just that
    const firstSlot = slotOf({ ...homes, localStorages: (homes.localStorages ?? ALL_LOCAL_STORAGES).filter((k) => k !== 'cgrp_storage') });
    return d.tuple(firstSlot, d.option(slotOf(homes), { freq: 2, nil: null }));
  };
  return {
    slots: slots(s.homes),
    // a non-GPL object (kfunc.non_gpl) cannot reach local storage: bpf_get_current_task_btf is a GPL-only helper
    nonGplSlots: slots({ ...s.homes, localStorages: [] }),
    programs: d.array(record({
      progType: progType({ progTypes: s.progTypes }),
      choices: d.array(d.nat({ max: 0xffff }), { maxLength: s.maxOps, size: s.size }),
    }), { minLength: 1, maxLength: s.maxPrograms, size: s.size }),
    base: d.array(record({ cpu: d.nat({ max: s.nrCpus - 1 }), repeat: d.integer({ min: 1, max: 3 }) }), { minLength: s.maxPrograms, maxLength: s.maxPrograms }),
    extra: d.array(record({ prog: d.nat({ max: s.maxPrograms - 1 }), cpu: d.nat({ max: s.nrCpus - 1 }), repeat: d.integer({ min: 1, max: 3 }) }), { maxLength: 3 }),
    // null first, with cross shrinking: a tail the mismatch does not need shrinks away
    history: s.historyFreq === 0
      ? d.constant(null)
      : d.oneof(
        { withCrossShrink: true },
        { arbitrary: d.constant(null), weight: s.historyFreq - 1 },
        { arbitrary: record({ prog: d.nat({ max: s.maxPrograms - 1 }), cpu: d.nat({ max: s.nrCpus - 1 }) }), weight: 1 },
      ),
    mapOps: s.maxMapOps === 0 ? d.constant([]) : d.option(d.array(record({ at: d.nat({ max: 16 }), op: mapOpStep({ slots: PLAN_SLOTS }) }), { minLength: 1, maxLength: s.maxMapOps }), { freq: 2, nil: null }).map((x) => x ?? []),
    // false first, so a free the mismatch does not need shrinks away
    freeMaps: s.freeMapsFreq === 0 ? d.constant(false) : d.nat({ max: s.freeMapsFreq - 1 }).map((n) => n === s.freeMapsFreq - 1),
    concurrent: concurrentPlan(s),
    // one slot in three, false first
    spinLocks: d.tuple(...PLAN_SLOTS.map(() => d.nat({ max: 2 }).map((n) => n === 2))),
    // null first
    ownerExit: s.ownerExitFreq === 0 ? d.constant(null) : d.oneof(
      { withCrossShrink: true },
      { arbitrary: d.constant(null), weight: s.ownerExitFreq - 1 },
      { arbitrary: d.nat({ max: 16 }), weight: 1 },
    ),
  };
}

const sharedPartsBySettings = new WeakMap<ScenarioSettings, ReturnType<typeof buildSharedParts>>();

function planArbitrary(s: ScenarioSettings, breaks: fc.Arbitrary<PlacedBreak[]>, rules: readonly string[], targetNeedsKptr: boolean): Planned {
  const needs = needsOf(rules, targetNeedsKptr);
  let shared = sharedPartsBySettings.get(s);
  if (shared === undefined) sharedPartsBySettings.set(s, (shared = buildSharedParts(s)));
  const plan = record({
    structs: planStructs(needs.twoStructs),
    bad: d.tuple(...needs.badRules.map((r, i) => badStructs(r, `t${2 + i}`, 't0'))),
    slots: rules.includes(NON_GPL) ? shared.nonGplSlots : shared.slots,
    programs: shared.programs,
    base: shared.base,
    extra: shared.extra,
    history: shared.history,
    breaks,
    // drawn last, so the values above stay those of the same seed without map operations
    mapOps: shared.mapOps,
    // drawn after everything else, for the same reason
    freeMaps: shared.freeMaps,
    // drawn after everything else, null first, for the same reasons
    concurrent: shared.concurrent,
    // drawn last as well
    spinLocks: shared.spinLocks,
    // the same again
    ownerExit: shared.ownerExit,
  });
  const shape = (p: typeof plan extends fc.Arbitrary<infer R> ? R : never): ScenarioPlan => {
    const [first, second] = p.slots;
    // slot 0 is always a __percpu_kptr slot; a second one is a plain __kptr slot when a break needs one
    const slotShapes = second === null ? [{ home: first.home, pointee: first.pointee, plain: false }] : [{ home: first.home, pointee: first.pointee, plain: false }, second];
    if (needs.kptrSlot && !slotShapes.some((x) => x.plain && x.home.kind !== 'cgrp_storage')) slotShapes.push({ home: first.home, pointee: first.pointee, plain: true });
    // a cgroup storage slot for local_storage.untrusted_owner comes on top: slot 0 stays one every program looks up
    if (needs.cgrpSlot && !slotShapes.some((x) => x.home.kind === 'cgrp_storage')) slotShapes.push({ home: { kind: 'cgrp_storage' }, pointee: first.pointee, plain: false });
    if (needs.taskSlot && !slotShapes.some((x) => x.home.kind === 'task_storage')) slotShapes.push({ home: { kind: 'task_storage' }, pointee: first.pointee, plain: false });
    return {
      inner: p.structs.inner, pointees: p.structs.pointees, bad: p.bad, slots: slotShapes, programs: p.programs, base: p.base, extra: p.extra,
      history: p.history, breaks: p.breaks, mapOps: p.mapOps, freeMaps: p.freeMaps, concurrent: p.concurrent, spinLocks: p.spinLocks, ownerExit: p.ownerExit,
    };
  };
  return (finish) => plan.map((p) => finish(shape(p)));
}

function concurrentPlan(s: ScenarioSettings): fc.Arbitrary<ConcurrentPlan | null> {
  const types = s.progTypes.filter((t): t is 'tc' | 'syscall' => t === 'tc' || t === 'syscall');
  if (s.concurrentFreq === 0 || s.nrCpus < 2 || types.length === 0) return d.constant(null);
  const plan = record({
    pair: d.nat({ max: RACE_PAIRS.length }),
    other: d.nat({ max: s.maxPrograms - 1 }),
    progType: d.constantFrom(...types),
    swapCpus: d.boolean(),
    cpu: d.nat({ max: 1 }),
  });
  return d.oneof({ withCrossShrink: true }, { arbitrary: d.constant(null), weight: s.concurrentFreq - 1 }, { arbitrary: plan, weight: 1 });
}

/**
 * The race programs of `plan` (c0, c1, the reader c2 and the filler c3, globals numbered on from `firstGlobal`) and
 * the steps that run them: the filler puts an object in the slot (and inserts a hash map's element, so that the race
 * is not over its creation), the two race at once, the reader reads what is left. They race on the first
 * __percpu_kptr slot whose pointee bpf_percpu_obj_new takes; null when there is none.
 */
function concurrentSteps(plan: ConcurrentPlan, structs: readonly StructType[], slots: readonly Slot[], programs: readonly Program[], firstGlobal: number): { programs: Program[]; globals: GlobalVar[]; steps: ScheduleStep[] } | null {
  const slot = slots.find((x) => x.tag === 'percpu_kptr' && percpuAllocatable(structs, x.pointee));
  const field = slot === undefined ? undefined : scalarFieldPaths(structs, slot.pointee)[0];
  if (slot === undefined || field === undefined) return null;
  const built: { program: Program; globals: readonly GlobalVar[] }[] = [];
  const race = (name: string, kind: RaceKind, value: string): Program => {
    const r = raceProgram({ name, kind, progType: plan.progType, slot: slot.name, struct: slot.pointee, field: field.path, value, cpu: plan.cpu, global: `g${firstGlobal + built.reduce((n, b) => n + b.globals.length, 0)}` });
    built.push(r);
    return r.program;
  };
  const [k0, k1] = RACE_PAIRS[plan.pair] ?? ['swap', 'swap'];
  const first = race('c0', k0, '1');
  // past the table's end: against one of the scenario's own programs, when it may run at once (valid or broken)
  const against = programs[plan.other % programs.length];
  const second = plan.pair >= RACE_PAIRS.length && against !== undefined && (against.progType === 'tc' || against.progType === 'syscall') ? against : race('c1', k1, '2');
  const reader = race('c2', 'read', '0');
  const filler = race('c3', 'swap', '3');
  const cpus = plan.swapCpus ? [1, 0] : [0, 1];
  const run = (program: Program, cpu: number): RunStep => ({ program: program.name, cpu, repeat: 1 });
  return {
    programs: built.map((b) => b.program),
    globals: built.flatMap((b) => b.globals),
    steps: [run(filler, 0), { concurrent: [run(first, cpus[0]!), run(second, cpus[1]!)] }, run(reader, 0)],
  };
}

/** a map home of a type whose value may hold a spin lock gets one when `lock` (map_check_btf: array and hash) */
function withSpinLock(home: Slot['home'], lock: boolean): Slot['home'] {
  return lock && home.kind === 'map' && SPIN_LOCK_MAP_TYPES.has(home.mapType) ? { ...home, spinLock: true } : home;
}

function describe(intent: Intent, programs: readonly Program[], slots: readonly Slot[], notes: readonly string[]): string {
  const progs = programs.map((p) => `${p.name}:${p.progType}`).join(' ');
  const homes = slots.map((x) => `${x.name}:${x.home.kind === 'map' ? x.home.mapType : x.home.kind === 'global' ? x.home.section : x.home.kind}${x.tag === 'kptr' ? '(kptr)' : ''}`).join(' ');
  const why = intent.kind === 'valid' ? 'valid' : `${intent.kind === 'break' ? 'break' : 'mixed'} ${notes.join(', ')}`;
  return `${why}; programs ${progs}; slots ${homes}`;
}

/** The intents every scenario of a kind shares (scenarios are plain data nobody changes). */
const VALID: Intent = Object.freeze({ kind: 'valid' });
const MIXED: Intent = Object.freeze({ kind: 'mixed' });

function assemble(plan: ScenarioPlan, s: ScenarioSettings, intent: Intent, target: StatePairTarget | null = null): Scenario {
  const structs: StructType[] = (plan.inner === null ? [] : [plan.inner]).concat(plan.pointees, ...plan.bad);
  const slots: Slot[] = plan.slots.map((x, i) => ({
    name: `m${i}`, home: withSpinLock(x.home, plan.spinLocks[i % plan.spinLocks.length] === true), pointee: plan.pointees[x.pointee % plan.pointees.length]?.name ?? 't0', tag: x.plain ? 'kptr' : 'percpu_kptr',
  }));
  const badStructs: Record<string, string> = {};
  // the percpu_obj_new.* rules broken, in order (needsOf's badRules): each allocates its refused struct
  let bad = 0;
  for (const b of plan.breaks) {
    if (!NEW_STRUCT_RULES.includes(b.rule)) continue;
    const t = plan.bad[bad++];
    if (t !== undefined) badStructs[b.rule] = t[t.length - 1]?.name ?? '';
  }
  const ctx: ProgramContext = { structs, slots, goodStructs: plan.pointees.map((t) => t.name), badStructs, nrCpus: s.nrCpus, maxOps: s.maxOps };
  const programs: Program[] = [];
  const globals: GlobalVar[] = [];
  const notes: string[] = [];
  plan.programs.forEach((p, i) => {
    // a GPL-only helper is the program's first error only in a program that calls no kfunc (kfunc.non_gpl is checked
    // before verification): its break comes first, right after the slots' lookups, and ends the program
    const breaks: BreakPlan[] = plan.breaks.filter((b) => b.prog % plan.programs.length === i).map((b) => (b.rule === GPL_ONLY ? { ...b, at: 0 } : b));
    // the target is reached first thing in p0, which takes the target's program type
    // the untrusted owner is a sleepable program's: a program that breaks it is a syscall one if it was not sleepable
    const progType = breaks.some((b) => b.rule === UNTRUSTED_OWNER) && !isSleepable(p.progType) ? 'syscall' : p.progType;
    const name = PROGRAM_NAMES[i] ?? `p${i}`;
    const lenient = intent.kind === 'mixed';
    const built = buildProgram(ctx, i === 0 && target !== null
      ? { name, choices: p.choices, breaks, lenient, progType: target.progType, target }
      : { name, choices: p.choices, breaks, lenient, progType }, globals.length);
    programs.push(built.program);
    for (const g of built.globals) globals.push(g);
    for (const n of built.notes) notes.push(`${n} in ${name}`);
  });
  // The license belongs to the whole object (one `_license` section): a non-GPL break relicenses every program.
  const license = programs.find((p) => p.license !== 'GPL')?.license ?? 'GPL';
  programs.forEach((p, i) => { if (p.license !== license) programs[i] = { ...p, license }; });
  const schedule: ScheduleStep[] = [];
  programs.forEach((p, i) => schedule.push({ program: p.name, cpu: plan.base[i]?.cpu ?? 0, repeat: plan.base[i]?.repeat ?? 1 }));
  for (const x of plan.extra) schedule.push({ program: programs[x.prog % programs.length]?.name ?? 'p0', cpu: x.cpu, repeat: x.repeat });
  // a map operation names a map-home slot (on an LRU map, an update of key 1 evicts key 0: eviction pressure)
  const mapSlots = slots.filter((x) => x.home.kind === 'map').map((x) => x.name);
  for (const { at, op } of plan.mapOps) {
    if (mapSlots.length === 0) break;
    const slot = mapSlots[PLAN_SLOTS.indexOf(op.slot) % mapSlots.length] as string;
    // BPF_F_LOCK on a value without a spin lock (EINVAL) is an invalid scenario's case only
    const home = slots.find((x) => x.name === slot)?.home;
    const keepLock = intent.kind !== 'valid' || (home !== undefined && hasSpinLock(home));
    const { lock, ...rest } = op as MapOpStep & { readonly lock?: boolean };
    schedule.splice(at % (schedule.length + 1), 0, (lock === true && keepLock ? { ...rest, lock, slot } : { ...rest, slot }) as MapOpStep);
  }
  // the race, after the map operations and before a history tail (whose grace period would free what it dropped)
  // a local-storage scenario's runs happen in its owner process, one at a time (checkScenarioRefs)
  const race = plan.concurrent === null || slots.some((x) => isLocalStorage(x.home)) ? null : concurrentSteps(plan.concurrent, structs, slots, programs, globals.length);
  if (race !== null) {
    programs.push(...race.programs.map((p) => ({ ...p, license })));
    globals.push(...race.globals);
    schedule.push(...race.steps);
  }
  // the owner of the local storage goes away between runs (or after the last): later runs start with fresh storage
  if (plan.ownerExit !== null && slots.some((x) => isLocalStorage(x.home))) schedule.splice(plan.ownerExit % (schedule.length + 1), 0, { owner_exit: true });
  // the history tail ends the schedule, after any map operation: after the grace period, the first run's allocation
  // refills its CPU's cache with what earlier runs dropped (bpf_mem_alloc's alloc_bulk) and the second run's gets it
  if (plan.history !== null) {
    schedule.push({ grace_period: true }, { program: programs[plan.history.prog % programs.length]?.name ?? 'p0', cpu: plan.history.cpu, repeat: 2 });
  }
  // the end of the object lifetime: the maps freed with what the slots still hold (checkScenarioRefs: map homes only)
  if (plan.freeMaps && slots.every((x) => inSlotMap(x.home))) schedule.push({ free_maps: true });
  // exact-size copies of the pushed-to lists, as ProgramBuilder's: a scenario lives as long as its case
  return { id: GENERATED_ID, description: describe(intent, programs, slots, notes), origin: null, intent, structs, slots, globals: globals.slice(), programs: programs.slice(), schedule: schedule.slice() };
}

/** Scenarios whose every program is valid by construction. */
export function validScenario(s: ScenarioSettings): fc.Arbitrary<Scenario> {
  return plans(s, [])((p) => assemble(p, s, VALID));
}

function placedBreak(rule: string, s: ScenarioSettings): fc.Arbitrary<PlacedBreak> {
  return record({ rule: d.constant(rule), prog: d.nat({ max: s.maxPrograms - 1 }), at: d.nat({ max: s.maxOps }), variant: d.nat({ max: 15 }) });
}

/** Scenarios breaking exactly `rule` once, in one program; everything else valid. */
export function breakingScenario(rule: string, s: ScenarioSettings): fc.Arbitrary<Scenario> {
  const intent: Intent = { kind: 'break', rule };
  return plans(s, [rule])((p) => assemble(p, s, intent));
}

/**
 * Scenarios whose first program reaches `target` first thing. A forbidden pair is the scenario's one break (intent
 * `break` of the rule it breaks); an allowed one goes into a scenario of the given mode (`break`: one of `rules`).
 */
export function targetedScenario(target: StatePairTarget, mode: 'valid' | 'break' | 'mixed', rules: readonly string[], s: ScenarioSettings): fc.Arbitrary<Scenario> {
  if (!target.allowed) {
    const intent: Intent = { kind: 'break', rule: target.rule as string };
    return plans(s, [], target)((p) => assemble(p, s, intent, target));
  }
  // p0 takes the target's program type: an untrusted owner needs a sleepable one; a GPL-only helper's program calls no
  // kfunc, where reaching the target may
  const breakable = rules.filter((r) => (r !== UNTRUSTED_OWNER || isSleepable(target.progType)) && r !== GPL_ONLY);
  if (mode === 'valid' || breakable.length === 0) return plans(s, [], target)((p) => assemble(p, s, VALID, target));
  return d.constantFrom(...breakable).chain(memoised((rule) => {
    const intent: Intent = { kind: 'break', rule };
    return plans(s, [rule], target)((p) => assemble(p, s, intent, target));
  }));
}

/** Scenarios with two breaks (any rules, possibly in different programs), tagged intent `mixed`. */
export function mixedScenario(rules: readonly string[], s: ScenarioSettings): fc.Arbitrary<Scenario> {
  return d.uniqueArray(d.constantFrom(...rules), { minLength: 2, maxLength: 2 }).chain(memoised((picked) =>
    plans(s, picked)((p) => assemble(p, s, MIXED)), (picked) => picked.join(' ')));
}

