import type {
  Divergence, DivergenceHit, KernelFeatures, KernelTarget, MapOpTrigger, Prediction, Program, ProgramPrediction, Scenario, Spec, StatePair,
  StepPrediction,
} from '../types/index.ts';
import type { StructLayout } from '../cabi/structLayout.ts';
import { kernelFeatures } from '../specs/versionRange.ts';
import { divergenceApplies } from './divergenceApplies.ts';
import { type RuleBook, ruleBook } from './ruleBook.ts';
import { type MapRelease, type Runnable, runSchedule } from './runtime/percpu.ts';
import { type CompiledProgram, compileProgram } from './verifier/compileProgram.ts';
import type { RuleHit } from './verifier/rules.ts';
import { missingKfunc, type ProgramVerdict, verifyProgram } from './verifier/verifyProgram.ts';
import { isRunStep, isSleepable, mapOpLock, stepKind } from '../types/index.ts';

/**
 * What a correct kernel must do with `scenario` on kernel `kernel.version` with `kernel.nrCpus` possible CPUs:
 * each program's verdict (and the first error in verification order, with the alternatives other paths give),
 * the globals after every test run of the accepted programs, known divergences that apply (by the kernel's probe
 * results, else by range: divergenceApplies), and whether the scenario is well-formed enough to run on the host.
 * Pure: no I/O, no clock, no randomness.
 */
export function predict(scenario: Scenario, kernel: KernelTarget, spec: Spec): Prediction {
  const view = kernelView(spec, kernel);
  const { features, book } = view;
  // each program flattened once, for the walk, missingKfunc and the run-time model
  const compiled = scenario.programs.map((p) => compileProgram(scenario, p));
  const missing = missingKfunc(compiled, features);
  const programs: ProgramPrediction[] = [];
  const divergences: DivergenceHit[] = [];
  const rulesHit: string[] = [];
  const statePairs: StatePair[] = [];
  const accepted = new Map<string, Runnable>();
  const layouts = new Map<string, StructLayout>();
  let clean = true;
  // a host-unsafe divergence that may touch the scenario (its range or its probe) keeps it off the host, even where
  // the probe says this build is fixed
  let hostUnsafe = false;
  for (let i = 0; i < scenario.programs.length; i++) {
    const program = scenario.programs[i] as Program;
    const c = compiled[i] as CompiledProgram;
    const walk = (applies: RuleBook['applies']): ProgramVerdict => verifyProgram({
      scenario,
      program,
      compiled: c,
      layouts,
      features,
      sleepable: isSleepable(program.progType),
      nrCpus: kernel.nrCpus,
      missingKfunc: missing,
      applies,
    });
    const verdict = walk(book.applies);
    if (verdict.malformed.length > 0) clean = false;
    // before its first error (if any), the program met a pair a divergent kernel refuses
    for (const d of refusedValid(verdict.pairs, view.rejectsValid)) {
      divergences.push(divergenceHit(d, program.name, null));
    }
    for (const p of verdict.pairs) {
      if (!hasPair(statePairs, p.op, p.state, program.progType)) statePairs.push({ op: p.op, state: p.state, progType: program.progType });
    }
    const first = verdict.errors[0];
    if (!first) {
      accepted.set(program.name, { program, insns: c.insns });
      programs.push({ program: program.name, verdict: 'accepted' });
      continue;
    }
    programs.push({ program: program.name, verdict: 'rejected', expected: book.message(first), alternatives: verdict.errors.slice(1).map(book.message) });
    for (const hit of verdict.errors) insertSorted(rulesHit, hit.ruleId);
    for (const hit of [...verdict.errors, ...pastSkippedRules(verdict.errors, book, walk)]) {
      if (book.hostUnsafe(hit.ruleId)) hostUnsafe = true;
      for (const d of [...book.divergences(hit.ruleId), ...(hit.via === undefined ? [] : book.divergences(hit.via))]) {
        if (!divergences.some((x) => x.program === program.name && x.divergenceId === d.id)) {
          divergences.push(divergenceHit(d, program.name, null));
        }
      }
    }
  }
  const { steps, mapOps, released, memory, outcomes } = runSchedule(scenario, accepted, kernel.nrCpus, spec.mapOps, layouts);
  divergences.push(...valueHits(steps, view.newValue), ...mapOpHits(released, view.afterMapOps));
  const allAccepted = accepted.size === scenario.programs.length;
  const cpusInRange = cpusBelow(scenario, kernel.nrCpus);
  return {
    scenarioId: scenario.id,
    kernelVersion: kernel.version,
    nrCpus: kernel.nrCpus,
    programs,
    steps,
    mapOps,
    divergences,
    rulesHit,
    statePairs,
    exercises: exercises(scenario),
    wellFormed: clean && allAccepted && cpusInRange && !hostUnsafe && scenario.intent.kind === 'valid',
    memory,
    ...(outcomes === null ? {} : { outcomes: outcomes.list, outcomesComplete: outcomes.complete }),
  };
}

/**
 * What a kernel that skips the rules of `errors` (an accepts_invalid divergence it shows) meets further on: the
 * program walked again without those rules, and again past any rule it meets that it skips too, until it meets none
 * or one it enforces. Such a kernel accepts the program and a VM runs it, so a divergence further on (one that
 * corrupts the kernel, say: plain_obj_into_percpu after nested_special_field_accepted) must be known before it runs.
 */
function pastSkippedRules(errors: readonly RuleHit[], book: RuleBook, walk: (applies: RuleBook['applies']) => ProgramVerdict): RuleHit[] {
  const skipped = new Set<string>();
  const skips = (hit: RuleHit): boolean => !skipped.has(hit.ruleId) && book.divergences(hit.ruleId).some((d) => d.kind === 'accepts_invalid');
  const met: RuleHit[] = [];
  let now = errors;
  while (now.length > 0 && now.every(skips)) {
    for (const hit of now) skipped.add(hit.ruleId);
    now = walk((id) => book.applies(id) && !skipped.has(id)).errors;
    met.push(...now);
  }
  return met;
}

/** Whether every run of the schedule is on a CPU below `nrCpus` (a loop: no list of runs per step). */
function cpusBelow(scenario: Scenario, nrCpus: number): boolean {
  for (const s of scenario.schedule) {
    if ('concurrent' in s) {
      for (const r of s.concurrent) if (r.cpu >= nrCpus) return false;
    } else if (isRunStep(s) && s.cpu >= nrCpus) return false;
  }
  return true;
}

/**
 * Prediction.exercises: the kinds of schedule step and of kptr home the scenario holds, a map operation with
 * BPF_F_LOCK (`step map_op BPF_F_LOCK`) and a map value with a spin lock (`home map hash spin_lock`) besides.
 */
function exercises(scenario: Scenario): string[] {
  const out: string[] = [];
  for (const s of scenario.schedule) {
    if ('mapOp' in s && mapOpLock(s)) insertSorted(out, 'step map_op BPF_F_LOCK');
    insertSorted(out, named('step', stepKind(s)));
  }
  for (const { home } of scenario.slots) {
    if (home.kind === 'map') {
      const map = named('home map', home.mapType);
      insertSorted(out, map);
      if (home.spinLock === true) insertSorted(out, named(map, 'spin_lock'));
    } else insertSorted(out, home.kind === 'global' ? named('home global', home.section) : named('home', home.kind));
  }
  return out;
}

/**
 * `text` added to sorted, duplicate-free `list` in its place: what sorting a set gives, with no sort call (V8's sort
 * allocates its own state at every call, and a case's lists are short).
 */
function insertSorted(list: string[], text: string): void {
  let i = list.length;
  while (i > 0 && (list[i - 1] as string) > text) i--;
  if (i > 0 && list[i - 1] === text) return;
  list.splice(i, 0, text);
}

/** `${prefix} ${name}`, built once: a case's exercises are a few of a small vocabulary (none is built, or flattened to sort, per case) */
function named(prefix: string, name: string): string {
  let byName = exerciseNames.get(prefix);
  if (byName === undefined) exerciseNames.set(prefix, (byName = new Map()));
  let text = byName.get(name);
  if (text === undefined) byName.set(name, (text = `${prefix} ${name}`));
  return text;
}

const exerciseNames = new Map<string, Map<string, string>>();

/** Where a known divergence meets a scenario: on a program, or from a schedule step on. */
export function divergenceHit(d: Divergence, program: string | null, step: number | null): DivergenceHit {
  return { program, step, divergenceId: d.id, hostUnsafe: d.hostUnsafe, splat: d.splat, kind: d.kind, ...(d.taintsKernel ? { taintsKernel: true } : {}) };
}

/** What predict needs of the spec that depends on the kernel only: asked once per kernel, not per case. */
interface KernelView {
  readonly features: KernelFeatures['features'];
  readonly book: RuleBook;
  /** rejects_valid divergences that apply here (they have validPairs) */
  readonly rejectsValid: readonly Divergence[];
  /** value divergences of `new` that apply here */
  readonly newValue: readonly Divergence[];
  /** value divergences that apply here and start with a userspace map operation */
  readonly afterMapOps: readonly (Divergence & { readonly afterMapOps: readonly MapOpTrigger[] })[];
}

/** views by spec, then by probe results (their key), then by version */
const views = new WeakMap<Spec, Map<string, Map<string, KernelView>>>();
/** the key of a probe result list (predictOn hands the same list for every case of a session) */
const probeKeys = new WeakMap<KernelTarget['divergences'], string>();

function probeKey(probes: KernelTarget['divergences']): string {
  if (probes.length === 0) return '';
  let key = probeKeys.get(probes);
  if (key === undefined) probeKeys.set(probes, (key = probes.map((r) => `${r.divergenceId}=${r.status}`).join(' ')));
  return key;
}

function kernelView(spec: Spec, kernel: KernelTarget): KernelView {
  let byProbes = views.get(spec);
  if (byProbes === undefined) views.set(spec, (byProbes = new Map()));
  const probes = probeKey(kernel.divergences);
  let byVersion = byProbes.get(probes);
  if (byVersion === undefined) byProbes.set(probes, (byVersion = new Map()));
  let view = byVersion.get(kernel.version);
  if (view === undefined) {
    const applying = spec.divergences.filter((d) => divergenceApplies(d, kernel));
    view = {
      features: kernelFeatures(spec, kernel.version).features,
      book: ruleBook(spec, kernel),
      rejectsValid: applying.filter((d) => d.validPairs !== null),
      newValue: applying.filter((d) => d.kind === 'value' && d.op === 'new'),
      afterMapOps: applying.flatMap((d) => (d.kind === 'value' && d.afterMapOps !== null ? [{ ...d, afterMapOps: d.afterMapOps }] : [])),
    };
    byVersion.set(kernel.version, view);
  }
  return view;
}

/** The rejects_valid divergences of this kernel that a program meets through one of the pairs it reaches (before any error). */
function refusedValid(pairs: readonly { readonly op: string; readonly state: string }[], rejectsValid: readonly Divergence[]): Divergence[] {
  if (pairs.length === 0 || rejectsValid.length === 0) return [];
  return rejectsValid.filter((d) => d.validPairs!.some((v) => pairs.some((p) => p.op === v.op && p.state === v.state)));
}

/** Whether `pairs` holds this one: a scan, no key text (a prediction meets a handful of pairs). */
function hasPair(pairs: readonly StatePair[], op: StatePair['op'], state: StatePair['state'], progType: StatePair['progType']): boolean {
  for (const p of pairs) if (p.op === op && p.state === state && p.progType === progType) return true;
  return false;
}

/**
 * Value divergences of this kernel that can show in these runs: today the one of `new` (per-CPU memory handed out
 * uncleared), for each program whose run predicts a zero-filled global. compare() lets such a hit explain only a
 * value mismatch of a zero-filled global of that step.
 */
function valueHits(steps: readonly StepPrediction[], newValue: readonly Divergence[]): DivergenceHit[] {
  if (newValue.length === 0) return [];
  const programs: string[] = [];
  for (const s of steps) if (s.zeroFilled.length > 0 && !programs.includes(s.program)) programs.push(s.program);
  return programs.flatMap((program) => newValue.map((d) => divergenceHit(d, program, null)));
}

/**
 * Value divergences of this kernel that a userspace map operation starts (Divergence.afterMapOps): one hit each, at
 * the first operation of the schedule that removed or overwrote an element holding an object in a way it names.
 * compare() lets it explain value and map-operation mismatches from that step on.
 */
function mapOpHits(released: readonly MapRelease[], afterMapOps: KernelView['afterMapOps']): DivergenceHit[] {
  if (released.length === 0) return [];
  return afterMapOps.flatMap((d) => {
    const first = released.find((r) => d.afterMapOps.some((t) => t.mapOps.includes(r.mapOp) && t.mapTypes.includes(r.mapType) && (t.lock !== true || r.lock)));
    return first === undefined ? [] : [divergenceHit(d, null, first.step)];
  });
}
