/**
 * The three-way comparison of `run --with-emulator`: each case runs on a kernel and on the emulator with the profile
 * of that kernel, and the oracle has predicted it. Pure. Where the emulator and the kernel differ, and who the
 * oracle sides with, says what the difference is:
 *
 * | emulator vs kernel | kernel vs oracle | emulator vs oracle | class            |
 * | same               | same             | (same)             | `agree`          |
 * | same               | differ           | (differ)           | `divergence`: both kernels' model and the kernel say it, the oracle does not (a divergence, computed) |
 * | differ             | same             | any                | `emulator_gap`: the emulator does not model this kernel |
 * | differ             | differ           | same               | `kernel_finding`: the model and the oracle agree, the kernel does not |
 * | differ             | differ           | differ             | `all_differ`     |
 */
import { logLines } from '../bpf/verifierLog.ts';
import type { CaseResult, Observation, ProgramObservation, RunObservation, StepPrediction } from '../types/index.ts';
import { lastErrorLine } from './matchMessages.ts';

export type EmulatorClass = 'agree' | 'divergence' | 'emulator_gap' | 'kernel_finding' | 'all_differ';
export const EMULATOR_CLASSES: readonly EmulatorClass[] = ['agree', 'divergence', 'emulator_gap', 'kernel_finding', 'all_differ'];

/** One thing the emulator and the kernel saw differently. */
export interface EmulatorDifference {
  /**
   * `verdict` accepted vs rejected; `errno` (or the stage that refused); `error_line` the emulator's error lines are not
   * in order in the kernel's log; `value` a run's retval, err or a global; `run` the kernel ran a step the emulator
   * did not; `emulator_error` the emulator could not model the scenario
   */
  readonly what: 'verdict' | 'errno' | 'error_line' | 'value' | 'run' | 'emulator_error';
  readonly program: string | null;
  readonly step: number | null;
  readonly kernel: string;
  readonly emulator: string;
}

/** One case's three-way comparison. */
export interface EmulatorComparison {
  /** the emulator profile (specs/profiles) the case ran on */
  readonly profile: string;
  readonly class: EmulatorClass;
  /** programs both verified */
  readonly programs: number;
  /** of those, with the same verdict, errno and error lines */
  readonly programsAgreeing: number;
  /** runs the kernel executed (the emulator may execute more: the host runs only what is safe) */
  readonly runs: number;
  /** of those, with the same err, retval and globals on the emulator */
  readonly runsAgreeing: number;
  readonly differences: readonly EmulatorDifference[];
  /**
   * the known divergences (specs/divergences) that explain where the kernel differs from the oracle: a
   * `kernel_finding` or `divergence` they explain is already recorded
   */
  readonly knownDivergences: readonly string[];
}

/**
 * Whether the emulator's error lines appear, in order, in the kernel's log: the kernel prints the walked instructions
 * too (log_level 1), the emulator only what the error sites print.
 */
export function errorLinesAgree(kernelLog: string, emulatorLog: string): boolean {
  let pos = 0;
  // its statistics left out: the emulator's insn count is not the kernel's (it prunes less)
  for (const line of logLines(emulatorLog)) {
    const at = kernelLog.indexOf(line, pos);
    if (at < 0) return false;
    pos = at + line.length;
  }
  return true;
}

function programDifferences(k: ProgramObservation, e: ProgramObservation): EmulatorDifference[] {
  const at = { program: k.program, step: null };
  if (k.verdict !== e.verdict) {
    const say = (p: ProgramObservation): string => (p.verdict === 'accepted' ? 'accepted' : `rejected: ${p.errnoName}: ${lastErrorLine(p.log) ?? ''}`);
    return [{ what: 'verdict', ...at, kernel: say(k), emulator: say(e) }];
  }
  if (k.verdict === 'accepted' || e.verdict === 'accepted') return [];
  if (k.errnoName !== e.errnoName || k.stage !== e.stage) {
    return [{ what: 'errno', ...at, kernel: `${k.stage} ${k.errnoName}`, emulator: `${e.stage} ${e.errnoName}` }];
  }
  if (!errorLinesAgree(k.log, e.log)) {
    return [{ what: 'error_line', ...at, kernel: lastErrorLine(k.log) ?? '', emulator: logLines(e.log)[0] ?? '' }];
  }
  return [];
}

function runKey(r: RunObservation): string {
  return `${r.step}/${r.iteration}/${r.cpu}`;
}

/** `step/iteration/global` of each global the expectation leaves undetermined (null) after a run. */
function undeterminedGlobals(predicted: readonly StepPrediction[]): ReadonlySet<string> {
  const out = new Set<string>();
  for (const p of predicted) for (const [name, v] of Object.entries(p.globals)) if (v === null) out.add(`${p.step}/${p.iteration}/${name}`);
  return out;
}

/**
 * @param interleaved the runs are of or after a concurrent step: the emulator ran its two runs one after the other,
 * the kernel in whichever interleaving it did, so their values are each judged by their own comparison with the
 * oracle's outcomes, not against each other
 * @param undetermined globals (undeterminedGlobals) whose value no contract decides, such as a field of a fresh
 * bpf_obj_new object, which the kernel does not clear: what the allocator's last user left there, which no model of
 * the kernel can know, is judged likewise
 */
function runDifferences(k: RunObservation, e: RunObservation | undefined, interleaved: boolean, undetermined: ReadonlySet<string>): EmulatorDifference[] {
  const at = { program: k.program, step: k.step };
  if (e === undefined) return [{ what: 'run', ...at, kernel: `ran on cpu ${k.cpu}`, emulator: 'did not run' }];
  if (interleaved) return [];
  const out: EmulatorDifference[] = [];
  if (k.err !== e.err) out.push({ what: 'value', ...at, kernel: `err ${k.err ?? 0}`, emulator: `err ${e.err ?? 0}` });
  // the harness reports no retval for tracing programs (BPF_PROG_TEST_RUN's is the trampoline's, not the program's)
  if (k.retval !== null && k.retval !== e.retval) out.push({ what: 'value', ...at, kernel: `retval ${k.retval}`, emulator: `retval ${e.retval}` });
  for (const [name, v] of Object.entries(k.globals)) {
    if (e.globals[name] !== v && !undetermined.has(`${k.step}/${k.iteration}/${name}`)) {
      out.push({ what: 'value', ...at, kernel: `${name}=${v}`, emulator: `${name}=${e.globals[name] ?? 'absent'}` });
    }
  }
  return out;
}

/** The class of a case from the three pairwise answers (see the table at the top). */
export function classify(emulatorIsKernel: boolean, kernelIsOracle: boolean, emulatorIsOracle: boolean): EmulatorClass {
  if (emulatorIsKernel) return kernelIsOracle ? 'agree' : 'divergence';
  if (kernelIsOracle) return 'emulator_gap';
  return emulatorIsOracle ? 'kernel_finding' : 'all_differ';
}

/** A comparison with the oracle counts as agreement only when nothing differs (a known divergence is a difference). */
function oracleAgrees(r: CaseResult): boolean {
  return r.status === 'pass';
}

/**
 * Compares one case's kernel and emulator observations, and classifies it with each one's comparison with the oracle
 * (judge/compare.ts). null when the kernel's side cannot be compared (skipped, or the runner failed), or the
 * emulator did not try the case (outside its model: cgroup storage).
 */
export function compareWithEmulator(c: {
  readonly profile: string;
  readonly kernel: Observation;
  readonly emulator: Observation;
  readonly kernelResult: CaseResult;
  readonly emulatorResult: CaseResult;
  /** the schedule's first concurrent step, if any (types/scenario.ts ConcurrentStep) */
  readonly concurrentFrom?: number | null;
  /** the expectation's runs (Prediction.steps): the globals it leaves undetermined are not compared between the two */
  readonly predicted?: readonly StepPrediction[];
}): EmulatorComparison | null {
  const { kernel, emulator } = c;
  if (kernel.skipped !== null || kernel.error !== null || emulator.skipped !== null) return null;
  const differences: EmulatorDifference[] = [];
  if (emulator.error !== null) {
    differences.push({ what: 'emulator_error', program: null, step: null, kernel: 'completed', emulator: `${emulator.error.code}: ${emulator.error.message}` });
  }
  let programs = 0;
  let programsAgreeing = 0;
  for (const k of kernel.programs) {
    const e = emulator.programs.find((p) => p.program === k.program);
    if (e === undefined) continue;
    programs++;
    const d = programDifferences(k, e);
    if (d.length === 0) programsAgreeing++;
    differences.push(...d);
  }
  const emulatorRuns = new Map(emulator.runs.map((r) => [runKey(r), r]));
  const undetermined = undeterminedGlobals(c.predicted ?? []);
  let runsAgreeing = 0;
  for (const k of kernel.runs) {
    const d = runDifferences(k, emulatorRuns.get(runKey(k)), c.concurrentFrom != null && k.step >= c.concurrentFrom, undetermined);
    if (d.length === 0) runsAgreeing++;
    differences.push(...d);
  }
  const cls = classify(differences.length === 0, oracleAgrees(c.kernelResult), oracleAgrees(c.emulatorResult));
  return {
    profile: c.profile, class: cls, programs, programsAgreeing, runs: kernel.runs.length, runsAgreeing, differences,
    knownDivergences: c.kernelResult.divergences,
  };
}

/** summary.json's `emulator`: a segment's three-way counts. */
export interface EmulatorSummary {
  readonly profile: string;
  /** cases compared (the kernel side neither skipped nor failed) */
  readonly cases: number;
  readonly byClass: Readonly<Record<EmulatorClass, number>>;
  readonly programs: number;
  readonly programsAgreeing: number;
  readonly runs: number;
  readonly runsAgreeing: number;
}

/** Counts comparisons case by case (memory flat in the number of cases). */
export function emulatorTally(profile: string): { add(c: EmulatorComparison): void; summary(): EmulatorSummary } {
  const byClass = Object.fromEntries(EMULATOR_CLASSES.map((k) => [k, 0])) as Record<EmulatorClass, number>;
  const n = { cases: 0, programs: 0, programsAgreeing: 0, runs: 0, runsAgreeing: 0 };
  return {
    add(c) {
      byClass[c.class]++;
      n.cases++;
      n.programs += c.programs;
      n.programsAgreeing += c.programsAgreeing;
      n.runs += c.runs;
      n.runsAgreeing += c.runsAgreeing;
    },
    summary: () => ({ profile, ...n, byClass: { ...byClass } }),
  };
}

/** `emulator 6.12: 4,990/5,000 programs (99.80 %) and 1,234/1,234 runs agree; 3 emulator gaps, ...` */
export function emulatorSummaryLine(s: EmulatorSummary): string {
  const pct = (a: number, b: number): string => (b === 0 ? '-' : `${((100 * a) / b).toFixed(2)} %`);
  const classes = EMULATOR_CLASSES.filter((k) => k !== 'agree').map((k) => `${s.byClass[k]} ${k.replace('_', ' ')}`).join(', ');
  return `emulator (profile ${s.profile}) vs kernel: ${s.programsAgreeing}/${s.programs} programs agree (${pct(s.programsAgreeing, s.programs)}), `
    + `${s.runsAgreeing}/${s.runs} runs (${pct(s.runsAgreeing, s.runs)}); ${s.cases} cases: ${s.byClass.agree} agree, ${classes}`;
}

/** The console's lines for one case where the emulator and the kernel differ (or both differ from the oracle). */
export function emulatorCaseLines(scenarioId: string, c: EmulatorComparison): string[] {
  if (c.class === 'agree') return [];
  const known = c.knownDivergences.length === 0 ? '' : `; the kernel's side is the known divergence ${c.knownDivergences.join(', ')}`;
  const head = `EMULATOR ${c.class.toUpperCase()} ${scenarioId} (profile ${c.profile}${known})`;
  const body = c.differences.map((d) => `  ${d.what}${d.program === null ? '' : ` ${d.program}`}${d.step === null ? '' : ` step ${d.step}`}: kernel ${d.kernel}; emulator ${d.emulator}`);
  return [head, ...(body.length > 0 ? body : ['  emulator and kernel agree; the oracle differs from both'])];
}
