import type {
  CaseResult,
  CaseStatus,
  ExpectedMessage,
  MapOpResult,
  Mismatch,
  Observation,
  Outcome,
  Prediction,
  ProgramObservation,
  ProgramPrediction,
  RunObservation,
  StepPrediction,
} from '../types/index.ts';
import { explainMismatch, lastErrorLine, matchMessages } from './matchMessages.ts';

/**
 * Compare what the oracle predicted with what a runner observed, for one scenario on one kernel.
 * Pure: the same pair always gives the same CaseResult.
 *
 * Status, in order: `skip` when the runner did not try the scenario; `fail` when a mismatch no known divergence
 * explains is left; `error` when the runner failed (harness crash, VM timeout, test_run error) and nothing else is
 * unexplained, unless a host-unsafe divergence of the case explains the kernel's death;
 * `divergence` when every mismatch is explained by a DivergenceHit; else `pass`.
 */
export function compare(p: Prediction, o: Observation): CaseResult {
  return judge(p, o).result;
}

/**
 * The mismatches of compare(p, o) that no known divergence explains (a runner error included unless the kernel's
 * recorded death explains it): what a bug is, as opposed to what the case also showed.
 */
export function unexplainedMismatches(p: Prediction, o: Observation): readonly Mismatch[] {
  return judge(p, o).unexplained;
}

function judge(p: Prediction, o: Observation): { result: CaseResult; unexplained: readonly Mismatch[] } {
  if (o.skipped !== null) return { result: caseResult(p, o, 'skip', [], o.skipped, [], []), unexplained: [] };
  // the value mismatches of zero-filled globals (StepPrediction.zeroFilled): a list, as most cases have none (a Set
  // allocates its table when made)
  const zeroFilled: Mismatch[] = [];
  // pushed to one list in order: a case is judged once per run, and most have nothing to report
  const mismatches: Mismatch[] = [];
  if (o.error !== null) mismatches.push(runnerError(null, null, 'the runner completes the scenario', `${o.error.code}: ${o.error.message}`));
  for (const pp of p.programs) compareProgram(pp, o, mismatches);
  compareOutcome(p, o, zeroFilled, mismatches);
  for (const m of compareMemory(p, o)) mismatches.push(m);
  for (const s of o.splats) {
    mismatches.push({
      kind: 'splat',
      // `during` may name a program of the scenario, or only say when (e.g. 'after the case ended')
      program: p.programs.some((x) => x.program === s.during) ? s.during : null,
      step: null,
      expected: 'no kernel splat',
      observed: `${s.kind}: ${firstLine(s.text)}`,
      detail: s.text,
    });
  }
  const mapOps = o.mapOps.map((r) => `${r.mapOp} ${r.mapType} ${r.err ?? 'ok'}`);
  if (mismatches.length === 0) {
    return { result: caseResult(p, o, 'pass', mismatches, notExecutedNote(p, o), [], mapOps), unexplained: [] };
  }
  return explained(p, o, mismatches, zeroFilled, mapOps);
}

/** The CaseResult of the pair, its fields in one order (one object shape for every case). */
function caseResult(p: Prediction, o: Observation, status: CaseStatus, mismatches: readonly Mismatch[], skipReason: string | null, divergences: readonly string[], mapOps: readonly string[]): CaseResult {
  return {
    scenarioId: o.scenarioId, runner: o.runner, kernelRelease: o.kernel.release, rules: p.rulesHit, statePairs: p.statePairs, exercises: p.exercises,
    status, mismatches, skipReason, divergences, mapOps,
  };
}

/** The verdict on a case with mismatches: which known divergences explain which of them. */
function explained(p: Prediction, o: Observation, mismatches: Mismatch[], zeroFilled: readonly Mismatch[], mapOps: string[]): { result: CaseResult; unexplained: readonly Mismatch[] } {
  const killedBy = killingDivergences(p, o);
  const valueDivergences = p.divergences.filter((d) => d.kind === 'value');
  const ranDivergent = divergentRuns(p, o);
  // value divergences a userspace map operation starts: what runs and map operations see from its step on
  const afterMapOp = p.divergences.flatMap((d) => (d.step === null ? [] : [{ step: d.step, divergenceId: d.divergenceId }]));
  // programs whose run died in a fatal splat (the emulator's fault, an Oops the harness survived): their missing runs
  // are that splat's doing
  const diedIn = new Map(mismatches.flatMap((m) => (m.kind === 'splat' && m.program !== null
    && o.splats.some((x) => x.during === m.program && FATAL_SPLATS.has(x.kind)) ? [[m.program, m] as const] : [])));
  const explainedBy = (m: Mismatch): readonly string[] => {
    if (m.kind === 'runner_error') {
      const splat = m.program === null ? undefined : diedIn.get(m.program);
      return killedBy.length > 0 || splat === undefined ? killedBy : explainedBy(splat);
    }
    if (zeroFilled.includes(m)) {
      const uncleared = valueDivergences.filter((d) => d.program === m.program).map((d) => d.divergenceId);
      if (uncleared.length > 0) return uncleared;
    }
    const direct = explainingDivergences(m, p);
    // a program that only a kernel known to be corrupted by it accepted, once run, can make any later program splat
    // (a plain object in a __percpu_kptr field, read by another program through bpf_this_cpu_ptr)
    if (direct.length === 0 && m.kind === 'splat') return ranDivergent.filter((r) => p.divergences.some((d) => d.divergenceId === r.divergenceId && d.hostUnsafe)).map((r) => r.divergenceId);
    if (direct.length > 0 || (m.kind !== 'value' && m.kind !== 'map_op') || m.step === null) return direct;
    return [...ranDivergent, ...afterMapOp].filter((r) => r.step <= m.step!).map((r) => r.divergenceId);
  };
  const unexplained = mismatches.filter((m) => m.kind !== 'runner_error' && explainedBy(m).length === 0);
  const status: CaseStatus =
    unexplained.length > 0 ? 'fail'
    : mismatches.some((m) => m.kind === 'runner_error' && explainedBy(m).length === 0) ? 'error'
    : mismatches.length > 0 ? 'divergence'
    : 'pass';
  const divergences = status === 'divergence' ? [...new Set(mismatches.flatMap(explainedBy))] : [];
  return {
    result: caseResult(p, o, status, mismatches, notExecutedNote(p, o), divergences, mapOps),
    unexplained: mismatches.filter((m) => explainedBy(m).length === 0),
  };
}

function firstLine(text: string): string {
  return text.split('\n').find((l) => l.trim().length > 0)?.trim() ?? '';
}

function runnerError(program: string | null, step: number | null, expected: string, observed: string): Mismatch {
  return { kind: 'runner_error', program, step, expected, observed, detail: observed };
}

/**
 * Runs of a program whose verdict a known divergence flips: one only a divergent kernel accepted (the oracle predicts
 * a refusal; what it wrote is outside the prediction) or one a divergent kernel refuses although it is valid
 * (rejects_valid: what its predicted runs would have written is missing). Value and map-operation mismatches from its
 * first run on (observed, or predicted) are that divergence's doing. The host gate never runs the first kind.
 */
function divergentRuns(p: Prediction, o: Observation): { step: number; divergenceId: string }[] {
  return p.divergences.flatMap((d) => {
    const predicted = p.programs.find((x) => x.program === d.program)?.verdict;
    const observed = o.programs.find((x) => x.program === d.program)?.verdict;
    const first = predicted === 'rejected' ? o.runs.find((r) => r.program === d.program)
      : predicted === 'accepted' && observed === 'rejected' ? p.steps.find((s) => s.program === d.program)
      : undefined;
    return first ? [{ step: first.step, divergenceId: d.divergenceId }] : [];
  });
}

/** Runner errors that mean the kernel died under the case (a guest panic, a harness killed by an Oops). */
const KERNEL_DEATHS: ReadonlySet<string> = new Set(['KPTR_VM_PANIC', 'KPTR_HARNESS_CRASH']);
/** Splats after which a guest that stops answering has died, not hung on its own (e.g. an Oops in an RCU callback). */
const FATAL_SPLATS: ReadonlySet<string> = new Set(['oops', 'bug', 'kasan', 'panic']);

/**
 * Host-unsafe divergences that explain the runner's failure: they are known to break the kernel, and this one
 * broke with a splat to show for it. That is the divergence doing what it is recorded to do (in a VM, where such
 * cases run), not the runner failing.
 */
function killingDivergences(p: Prediction, o: Observation): readonly string[] {
  if (o.error === null || o.splats.length === 0) return [];
  const died = KERNEL_DEATHS.has(o.error.code) || (o.error.code === 'KPTR_VM_TIMEOUT' && o.splats.some((s) => FATAL_SPLATS.has(s.kind)));
  if (!died) return [];
  return p.divergences.filter((d) => d.hostUnsafe).map((d) => d.divergenceId);
}

/**
 * Divergence ids that explain a mismatch: a hit on the mismatching program; for a splat the runner could not pin on a
 * program (e.g. an oops when the map is freed after the last run), any hit of the scenario known to corrupt the kernel
 * (host-unsafe) or to make it log a splat.
 */
function explainingDivergences(m: Mismatch, p: Prediction): readonly string[] {
  if (m.kind === 'runner_error') return [];
  if (m.program === null) {
    return m.kind === 'splat' ? p.divergences.filter((d) => d.hostUnsafe || d.splat).map((d) => d.divergenceId) : [];
  }
  // a value divergence explains zero-filled globals only (compare's zeroFilled), never a verdict or message
  return p.divergences.filter((d) => d.program === m.program && d.kind !== 'value').map((d) => d.divergenceId);
}

function describeExpected(e: ExpectedMessage): string {
  return `rejected (${e.stage}, ${e.errnoName}) [${e.ruleId}]: ${e.lines.join(' / ')}`;
}

function describeRejection(obs: Extract<ProgramObservation, { verdict: 'rejected' }>): string {
  return `rejected (${obs.stage}, ${obs.errnoName}): ${lastErrorLine(obs.log) ?? '(empty log)'}`;
}

/** The program's verdict (and a rejection's message) against the prediction's, pushed to `out`. */
function compareProgram(pp: ProgramPrediction, o: Observation, out: Mismatch[]): void {
  const obs = o.programs.find((x) => x.program === pp.program);
  if (obs === undefined) {
    // A crashed runner leaves programs unobserved; that is already the runner_error mismatch.
    if (o.error === null) out.push(runnerError(pp.program, null, `a verdict for ${pp.program}`, 'no load event for this program'));
    return;
  }
  if (pp.verdict === 'accepted') {
    if (obs.verdict === 'accepted') return;
    out.push({ kind: 'verdict_kernel_rejects', program: pp.program, step: null, expected: 'accepted', observed: describeRejection(obs), detail: `${obs.summary}\n${obs.log}` });
    return;
  }
  if (obs.verdict === 'accepted') {
    out.push({
      kind: 'verdict_kernel_accepts',
      program: pp.program,
      step: null,
      expected: describeExpected(pp.expected),
      observed: 'accepted',
      detail: `the kernel accepted ${pp.program}; a correct verifier rejects it by rule ${pp.expected.ruleId}`,
    });
    return;
  }
  const candidates = [pp.expected, ...pp.alternatives];
  if (candidates.some((c) => c.stage === obs.stage && matchMessages(obs.log, c.lines).ok)) return;
  out.push({
    kind: 'message',
    program: pp.program,
    step: null,
    expected: describeExpected(pp.expected),
    observed: describeRejection(obs),
    detail: candidates
      .map((c, i) => `${i === 0 ? 'expected' : `alternative ${i}`} [${c.ruleId}] stage ${c.stage} (observed ${obs.stage})\n${explainMismatch(obs.log, c.lines)}`)
      .join('\n\n'),
  });
}

/** u64 values travel as decimal strings; compare numerically when both parse so `07` and `7` agree. */
function sameValue(expected: string, observed: string): boolean {
  if (expected === observed) return true;
  try {
    return BigInt(expected) === BigInt(observed);
  } catch {
    return expected === observed;
  }
}

function describeRun(run: RunObservation): string {
  const globals = Object.entries(run.globals).map(([k, v]) => `  ${k} = ${v}`).join('\n');
  return `step ${run.step} iteration ${run.iteration}: ${run.program} on CPU ${run.cpu}, retval ${run.retval ?? 'n/a'}\nglobals after the run:\n${globals}`;
}

/**
 * The runs' values and the map operations' results. With concurrent steps, the observation must be one of the
 * outcomes the interleavings allow (Prediction.outcomes): none mismatches then; otherwise the mismatches with the
 * closest outcome (fewest mismatches, the first on a tie), each saying how many outcomes there were.
 */
function compareOutcome(p: Prediction, o: Observation, zeroFilled: Mismatch[], out: Mismatch[]): void {
  // one outcome (no concurrent step): its mismatches are the case's
  if (p.outcomes === undefined) {
    outcomeMismatches(p.steps, p.mapOps, p, o, zeroFilled, out);
    return;
  }
  const outcomes = p.outcomes;
  let best: { mismatches: Mismatch[]; zf: Mismatch[]; index: number } | null = null;
  for (const [index, x] of outcomes.entries()) {
    const zf: Mismatch[] = [];
    const mismatches: Mismatch[] = [];
    outcomeMismatches(x.steps, x.mapOps, p, o, zf, mismatches);
    if (best === null || mismatches.length < best.mismatches.length) best = { mismatches, zf, index };
    if (mismatches.length === 0) break;
  }
  if (best === null) return;
  if (best.mismatches.length === 0) {
    for (const m of best.zf) zeroFilled.push(m);
    return;
  }
  const note = `\nthe observation is none of the ${outcomes.length} outcomes the interleavings of the concurrent runs allow`
    + `${p.outcomesComplete === false ? ' (the oracle enumerated only part of the interleavings)' : ''}; closest: outcome ${best.index + 1}`;
  const { zf } = best;
  for (const m of best.mismatches) {
    const annotated = { ...m, detail: `${m.detail}${note}` };
    if (zf.includes(m)) zeroFilled.push(annotated);
    out.push(annotated);
  }
}

/** The mismatches of one outcome's steps, then of its map operations, pushed to `out`. */
function outcomeMismatches(steps: Outcome['steps'], mapOps: Outcome['mapOps'], p: Prediction, o: Observation, zeroFilled: Mismatch[], out: Mismatch[]): void {
  for (const step of steps) compareStep(step, p, o, zeroFilled, out);
  for (const op of mapOps) compareMapOp(op, o, out);
}

/** Value mismatches of a zero-filled global (StepPrediction.zeroFilled) also go into `zeroFilled`. */
function compareStep(step: StepPrediction, p: Prediction, o: Observation, zeroFilled: Mismatch[], out: Mismatch[]): void {
  const run = o.runs.find((r) => r.step === step.step && r.iteration === step.iteration && r.program === step.program && (step.cpu === undefined || r.cpu === step.cpu));
  if (run === undefined) {
    const gated = o.notRun.some((n) => n.program === step.program);
    const rejected = o.programs.some((x) => x.program === step.program && x.verdict === 'rejected');
    const predictedAccepted = p.programs.some((x) => x.program === step.program && x.verdict === 'accepted');
    // Not run by the host gate, already a verdict mismatch, or lost in a runner crash: nothing more to say here.
    if (gated || rejected || !predictedAccepted || o.error !== null) return;
    out.push(runnerError(step.program, step.step, `step ${step.step} iteration ${step.iteration} executed`, 'no run event and no reason given'));
    return;
  }
  if (run.err !== null) {
    out.push(runnerError(step.program, step.step, 'BPF_PROG_TEST_RUN succeeds', `BPF_PROG_TEST_RUN failed: ${run.err}`));
    return;
  }
  if (step.retval !== null && run.retval !== step.retval) out.push(valueMismatch(step, run, `retval=${step.retval}`, `retval=${run.retval ?? 'none'}`));
  const globals = step.globals;
  for (const name in globals) {
    const expected = globals[name] as string | null;
    if (expected === null) continue;
    const observed = run.globals[name];
    if (observed !== undefined && sameValue(expected, observed)) continue;
    const m = valueMismatch(step, run, `${name}=${expected}`, `${name}=${observed ?? '(not reported)'}`);
    out.push(m);
    if (observed !== undefined && step.zeroFilled.includes(name)) zeroFilled.push(m);
  }
}

function valueMismatch(step: StepPrediction, run: RunObservation, expected: string, observed: string): Mismatch {
  return { kind: 'value', program: step.program, step: step.step, expected, observed, detail: describeRun(run) };
}

function describeMapOp(r: MapOpResult): string {
  const batch = `${r.count === undefined ? '' : ` count ${r.count}`}${r.keys === undefined ? '' : ` keys [${r.keys.join(', ')}]`}`;
  return `${r.err ?? 'ok'}${batch}${r.value === null ? '' : ` value ${r.value.map((copy) => `[${copy.join(', ')}]`).join(' ')}`}`;
}

/**
 * A userspace map operation: the same errno, for a lookup the same words per CPU (`sum`, and zero where the kptr
 * sits), and for a batch the same `count` and keys returned. One the runner held back (Observation.notRun) or lost in a runner failure says nothing.
 */
function compareMapOp(expected: MapOpResult, o: Observation, out: Mismatch[]): void {
  const got = o.mapOps.find((r) => r.step === expected.step);
  if (got === undefined) {
    if (o.error === null && o.notRun.length === 0) out.push(runnerError(null, expected.step, `map operation at step ${expected.step} executed`, 'no result and no reason given'));
    return;
  }
  const same = got.err === expected.err && got.count === expected.count && `${got.keys ?? '-'}` === `${expected.keys ?? '-'}` && (expected.value === null || (got.value !== null && got.value.length === expected.value.length
    && expected.value.every((copy, cpu) => copy.every((w, i) => got.value?.[cpu]?.[i] !== undefined && sameValue(w, got.value[cpu]![i]!)))));
  if (same) return;
  out.push({
    kind: 'map_op',
    program: null,
    step: expected.step,
    expected: `${expected.mapOp}: ${describeMapOp(expected)}`,
    observed: `${got.mapOp}: ${describeMapOp(got)}`,
    detail: `userspace ${expected.mapOp} at step ${expected.step}: expected ${describeMapOp(expected)}, observed ${describeMapOp(got)} (value words per CPU: sum, kptr field)`,
  });
}

/**
 * The memory oracle: a scenario that ends by freeing its maps brings `Percpu:` back to its baseline after any number
 * of passes. Growth beyond the slack is a `leak`, with how much a pass kept next to what it allocated and what the
 * maps held when freed (a leak of the map free path grows by about the latter a pass).
 */
export function compareMemory(p: Prediction, o: Observation): readonly Mismatch[] {
  const m = o.memory;
  if (!p.memory || m === undefined || m.passes === 0 || m.percpuKbBefore < 0 || m.percpuKbAfter < 0) return [];
  const grewKb = m.percpuKbAfter - m.percpuKbBefore;
  if (grewKb <= p.memory.slackKb) return [];
  const perPass = Math.round((grewKb * 1024) / m.passes);
  return [{
    kind: 'leak',
    program: null,
    step: null,
    expected: `Percpu back within ${p.memory.slackKb} kB of its baseline after ${m.passes} passes (maps freed, grace periods waited)`,
    observed: `Percpu grew by ${grewKb} kB (${m.percpuKbBefore} -> ${m.percpuKbAfter} kB): about ${perPass} bytes a pass`,
    detail: `each pass allocates ${p.memory.allocatedBytes} per-CPU bytes (all CPUs) and its maps hold ${p.memory.heldAtFreeBytes} when freed; Percpu after each pass (kB): ${m.percpuKb.join(' ')}`,
  }];
}

/**
 * When the prediction has run steps but the runner executed none of them because every program was held back
 * (Observation.notRun), say so: the verdicts may pass, but no value was checked.
 */
function notExecutedNote(p: Prediction, o: Observation): string | null {
  if (p.steps.length === 0 || o.runs.length > 0 || o.notRun.length === 0) return null;
  const programs = [...new Set(p.steps.map((s) => s.program))];
  const reasons = programs.map((prog) => o.notRun.find((n) => n.program === prog)).filter((n) => n !== undefined);
  if (reasons.length !== programs.length) return null;
  return `not executed: ${reasons.map((n) => `${n.program}: ${n.reason}`).join('; ')}`;
}
