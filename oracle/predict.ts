import type {
  Divergence, DivergenceHit, KernelTarget, Prediction, ProgramPrediction, Scenario, Spec, StatePair, StepPrediction,
} from '../types/index.ts';
import { kernelFeatures } from '../specs/versionRange.ts';
import { divergenceApplies } from './divergenceApplies.ts';
import { ruleBook } from './ruleBook.ts';
import { type MapRelease, runSchedule } from './runtime/percpu.ts';
import { missingKfunc, verifyProgram } from './verifier/verifyProgram.ts';
import { isRunStep, mapOpLock, stepKind, stepRuns } from '../types/index.ts';

/**
 * What a correct kernel must do with `scenario` on kernel `kernel.version` with `kernel.nrCpus` possible CPUs:
 * each program's verdict (and the first error in verification order, with the alternatives other paths give),
 * the globals after every test run of the accepted programs, known divergences that apply (by the kernel's probe
 * results, else by range: divergenceApplies), and whether the scenario is well-formed enough to run on the host.
 * Pure: no I/O, no clock, no randomness.
 */
export function predict(scenario: Scenario, kernel: KernelTarget, spec: Spec): Prediction {
  const { features } = kernelFeatures(spec, kernel.version);
  const book = ruleBook(spec, kernel);
  const missing = missingKfunc(scenario, features);
  const programs: ProgramPrediction[] = [];
  const divergences: DivergenceHit[] = [];
  const rulesHit = new Set<string>();
  const statePairs: StatePair[] = [];
  const accepted = new Set<string>();
  let clean = true;
  // a host-unsafe divergence that may touch the scenario (its range or its probe) keeps it off the host, even where
  // the probe says this build is fixed
  let hostUnsafe = false;
  for (const program of scenario.programs) {
    const verdict = verifyProgram({
      scenario,
      program,
      features,
      sleepable: program.progType === 'syscall' || program.progType === 'fentry.s',
      nrCpus: kernel.nrCpus,
      missingKfunc: missing,
      applies: book.applies,
    });
    if (verdict.malformed.length > 0) clean = false;
    // before its first error (if any), the program met a pair a divergent kernel refuses
    for (const d of refusedValid(verdict.pairs, spec, kernel)) {
      divergences.push(divergenceHit(d, program.name, null));
    }
    for (const p of verdict.pairs) {
      if (!statePairs.some((x) => x.op === p.op && x.state === p.state && x.progType === program.progType)) statePairs.push({ ...p, progType: program.progType });
    }
    const [first, ...rest] = verdict.errors;
    if (!first) {
      accepted.add(program.name);
      programs.push({ program: program.name, verdict: 'accepted' });
      continue;
    }
    programs.push({ program: program.name, verdict: 'rejected', expected: book.message(first), alternatives: rest.map(book.message) });
    for (const hit of verdict.errors) {
      rulesHit.add(hit.ruleId);
      if (book.hostUnsafe(hit.ruleId)) hostUnsafe = true;
      for (const d of [...book.divergences(hit.ruleId), ...(hit.via === undefined ? [] : book.divergences(hit.via))]) {
        if (!divergences.some((x) => x.program === program.name && x.divergenceId === d.id)) {
          divergences.push(divergenceHit(d, program.name, null));
        }
      }
    }
  }
  const { steps, mapOps, released, memory, outcomes } = runSchedule(scenario, accepted, kernel.nrCpus, spec.mapOps);
  divergences.push(...valueHits(steps, spec, kernel), ...mapOpHits(released, spec, kernel));
  const allAccepted = accepted.size === scenario.programs.length;
  const cpusInRange = scenario.schedule.every((s) => stepRuns(s).every((r) => r.cpu < kernel.nrCpus));
  return {
    scenarioId: scenario.id,
    kernelVersion: kernel.version,
    nrCpus: kernel.nrCpus,
    programs,
    steps,
    mapOps,
    divergences,
    rulesHit: [...rulesHit].sort(),
    statePairs,
    exercises: exercises(scenario),
    wellFormed: clean && allAccepted && cpusInRange && !hostUnsafe && scenario.intent.kind === 'valid',
    memory,
    ...(outcomes === null ? {} : { outcomes: outcomes.list, outcomesComplete: outcomes.complete }),
  };
}

/**
 * Prediction.exercises: the kinds of schedule step and of kptr home the scenario holds, a map operation with
 * BPF_F_LOCK (`step map_op BPF_F_LOCK`) and a map value with a spin lock (`home map hash spin_lock`) besides.
 */
function exercises(scenario: Scenario): string[] {
  const steps = scenario.schedule.flatMap((s) => ['mapOp' in s && mapOpLock(s) ? ['step map_op BPF_F_LOCK'] : [], `step ${stepKind(s)}`].flat());
  const homes = scenario.slots.flatMap((s) => (s.home.kind === 'map'
    ? [`home map ${s.home.mapType}`, ...(s.home.spinLock === true ? [`home map ${s.home.mapType} spin_lock`] : [])]
    : s.home.kind === 'global' ? [`home global ${s.home.section}`] : [`home ${s.home.kind}`]));
  return [...new Set([...steps, ...homes])].sort();
}

/** Where a known divergence meets a scenario: on a program, or from a schedule step on. */
export function divergenceHit(d: Divergence, program: string | null, step: number | null): DivergenceHit {
  return { program, step, divergenceId: d.id, hostUnsafe: d.hostUnsafe, splat: d.splat, kind: d.kind, ...(d.taintsKernel ? { taintsKernel: true } : {}) };
}

/** The rejects_valid divergences of this kernel that a program meets through one of the pairs it reaches (before any error). */
function refusedValid(pairs: readonly { readonly op: string; readonly state: string }[], spec: Spec, kernel: KernelTarget): Divergence[] {
  return spec.divergences.filter((d) => d.validPairs !== null && divergenceApplies(d, kernel)
    && d.validPairs.some((v) => pairs.some((p) => p.op === v.op && p.state === v.state)));
}

/**
 * Value divergences of this kernel that can show in these runs: today the one of `new` (per-CPU memory handed out
 * uncleared), for each program whose run predicts a zero-filled global. compare() lets such a hit explain only a
 * value mismatch of a zero-filled global of that step.
 */
function valueHits(steps: readonly StepPrediction[], spec: Spec, kernel: KernelTarget): DivergenceHit[] {
  const own = spec.divergences.filter((d) => d.kind === 'value' && d.op === 'new' && divergenceApplies(d, kernel));
  const programs = [...new Set(steps.filter((s) => s.zeroFilled.length > 0).map((s) => s.program))];
  return programs.flatMap((program) => own.map((d) => divergenceHit(d, program, null)));
}

/**
 * Value divergences of this kernel that a userspace map operation starts (Divergence.afterMapOps): one hit each, at
 * the first operation of the schedule that removed or overwrote an element holding an object in a way it names.
 * compare() lets it explain value and map-operation mismatches from that step on.
 */
function mapOpHits(released: readonly MapRelease[], spec: Spec, kernel: KernelTarget): DivergenceHit[] {
  return spec.divergences.flatMap((d) => {
    if (d.kind !== 'value' || d.afterMapOps === null || !divergenceApplies(d, kernel)) return [];
    const first = released.find((r) => d.afterMapOps!.some((t) => t.mapOps.includes(r.mapOp) && t.mapTypes.includes(r.mapType) && (t.lock !== true || r.lock)));
    return first === undefined ? [] : [divergenceHit(d, null, first.step)];
  });
}
