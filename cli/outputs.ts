import { rm } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { DiskFull, isNoSpace } from '../errors/diskFull.ts';
import { KptrError } from '../errors/KptrError.ts';
import { bugTally, type BugCase, type BugTally } from '../reports/bugBuckets.ts';
import { bugSignature } from '../reports/bugSignature.ts';
import { replaceFile } from '../reports/replaceFile.ts';
import { reporters, type Reporter, type ReporterName, type RerunSource } from '../reports/reporter.ts';
import { writeFinding } from '../reports/reproducer.ts';
import { emulatorTally } from '../judge/emulatorComparison.ts';
import { summaryTally, type FindingRef, type Summary, type SummaryTally } from '../reports/summary.ts';
import { timelineTally, type TimelineState, type TimelineTally } from '../reports/timeline.ts';
import type { CaseResult, MismatchKind, Observation, Prediction, Spec } from '../types/index.ts';
import { statePairVocabulary } from '../oracle/statePairs.ts';
import type { RunConfig } from './config.ts';
import { replayTarget } from './preflight.ts';
import type { CheckedCase } from './pipeline.ts';
import type { ResultLine } from '../reports/readResults.ts';
import type { Session } from './session.ts';

/** A mismatch the campaign kept (after shrinking), ready to be written to findings/<id>/. */
export interface CampaignFinding {
  readonly id: string;
  readonly checked: CheckedCase;
  readonly seed: number | null;
  /** index of the generated case in its seed's sequence (replay by seed + index) */
  readonly index: number | null;
  /** shrink path */
  readonly path: string;
  /** Finding.reproduced */
  readonly reproduced: boolean | null;
  /** Finding.unshrunkBecause */
  readonly unshrunkBecause: string | null;
}

/** What finish() wrote, and what it could not. */
export interface Finished {
  /** one Summary per segment */
  readonly summaries: readonly Summary[];
  /** outputs that could not be written, or were cut short (relative to the output directory), each with its error */
  readonly notWritten: readonly { readonly what: string; readonly error: unknown }[];
}

/**
 * Everything one command writes: reporters (console, files) fed case by case, findings, and summary.json.
 * A run over several kernels is several segments. Memory stays flat in the number of cases: a segment keeps counts
 * (SummaryTally) and finding refs, the file reporters append as cases come. Whatever was computed is written even
 * when the run stops on an error or a signal; a write that fails (a full disk) is reported once, through `onFailure`,
 * and no later case is written anywhere, so the files stay valid and agree with each other.
 */
export interface Outputs {
  /**
   * `elapsedMs`: time the segment already spent before a resume (its cases/s and --duration count it); `timeline`: its
   * progress until then (the checkpoint's)
   */
  startSegment(session: Session, total: number | null, elapsedMs?: number, timeline?: TimelineState | null): void;
  /**
   * never throws: a failed write goes to onFailure. Returns where the case's result is, `results.jsonl:<line>`, or
   * null (results.jsonl not written, or no longer: a write failed)
   */
  onCase(c: CheckedCase): string | null;
  /**
   * A case an earlier process recorded (run --resume, merge): into the file reporters (not the console), and into the
   * current segment's counts when `counted`. @throws what a reporter throws
   */
  onRecordedCase(line: ResultLine, counted: boolean): Promise<void>;
  /** segments an earlier process finished (run --resume): they come first in summary.json */
  restoreSegments(done: readonly Summary[]): void;
  /** time the current segment has spent (its clock started before generation) */
  elapsedMs(): number;
  /** the current segment's progress so far (a checkpoint keeps it) */
  timeline(): TimelineState;
  /** @throws KptrError KPTR_DISK_FULL (the partial finding directory removed) */
  onFinding(f: CampaignFinding): Promise<void>;
  /** a failing case of the bug `signature` (reports/bugSignature.ts), after its finding if it has one */
  onBugCase(signature: string, kinds: readonly MismatchKind[], c: BugCase): void;
  endSegment(): Summary;
  /** writes what the file reporters hold back (a checkpoint then reads results.jsonl's size); a failed write: onFailure */
  flush(): void;
  /** reporters' onEnd and summary.json, each tried even when another fails; `stopped`: Summary.stopped */
  finish(stopped: string | null): Promise<Finished>;
}

/**
 * The one error a run ends with when some output was not written: the first error (the run's own `failure`, else
 * the first failed write), its message naming every output not written or cut short. null when all were written.
 */
export function notWrittenError(done: Finished, failure: unknown): unknown {
  const first = done.notWritten[0];
  if (first === undefined) return null;
  const base = failure ?? first.error;
  if (!(base instanceof KptrError)) return base;
  const list = [...new Set(done.notWritten.map((n) => n.what))].join(', ');
  return new KptrError(base.code, `${base.message}; not written or cut short: ${list}`, base.hint, { cause: base });
}

/** The bug a failing case shows (its signature), as the findings will bucket it; null for any other case. */
function failingBug(r: CaseResult, p: Prediction | null, o: Observation): string | null {
  return (r.status === 'fail' || r.status === 'error') && p !== null ? bugSignature(p, o) : null;
}

export interface OutputsOptions {
  /** how a failing case is run again (a campaign's findings by default; selftests and replay say theirs) */
  readonly rerun?: RerunSource;
  /** called once with the first write that failed (a full disk): the run stops as on a signal */
  readonly onFailure?: (e: unknown) => void;
  /** bug signatures the regression corpus has recorded: such a bug is seen again, not new */
  readonly knownBugs?: ReadonlySet<string>;
}

export function openOutputs(cfg: RunConfig, spec: Spec, options: OutputsOptions = {}): Outputs {
  const rerun = options.rerun ?? { kind: cfg.shrink ? 'shrunk-finding' : 'finding' };
  const onFailure = options.onFailure ?? (() => {});
  const named = cfg.formats.map((name) => [name, reporters[name as ReporterName]({
    outDir: cfg.outDir,
    stdout: process.stdout,
    isTTY: process.stdout.isTTY === true,
    quiet: cfg.quiet,
    rerun,
    json: cfg.json,
    kernels: cfg.kernels.length,
    clock: () => performance.now(),
  })] as const);
  const active: Reporter[] = named.map(([, r]) => r);
  // the console reports what this process runs; recorded cases are only counted in its summary
  const files: Reporter[] = named.filter(([name]) => name !== 'console').map(([, r]) => r);
  const summaries: Summary[] = [];
  const pending: Promise<unknown>[] = [];
  const notWritten: { what: string; error: unknown }[] = [];
  let failed = false;
  let seg: {
    session: Session; tally: SummaryTally; emulator: ReturnType<typeof emulatorTally> | null; findings: FindingRef[]; bugs: BugTally;
    timeline: TimelineTally; t0: number;
  } | null = null;
  const knownBugs = options.knownBugs ?? new Set<string>();
  const jsonl = cfg.formats.includes('jsonl');
  /** cases written: results.jsonl has one line per case, over every segment */
  let resultLines = 0;
  const ruleIds = spec.rules.map((r) => r.id);

  const fail = (e: unknown): void => {
    const what = e instanceof DiskFull ? relative(cfg.outDir, e.path) || e.path : String(e);
    notWritten.push({ what, error: e });
    if (failed) return;
    failed = true;
    onFailure(e);
  };

  const close = (stopped: string | null = null): Summary => {
    const s = seg!;
    const summary: Summary = {
      ...s.tally.summary({
        runner: s.session.runner.name, runnerChosen: cfg.runnerChosen, kernel: s.session.kernel, seed: cfg.runs > 0 && cfg.seed !== null ? cfg.seed : null,
        durationMs: performance.now() - s.t0, ruleIds, stopped,
      }),
      findings: s.findings,
      bugs: s.bugs.bugs(),
      timeline: s.timeline.state().samples,
      emulator: s.emulator?.summary() ?? null,
    };
    summaries.push(summary);
    seg = null;
    return summary;
  };

  return {
    startSegment(session, total, elapsedMs = 0, timeline = null) {
      if (seg) close();
      const emulator = session.emulator === null ? null : emulatorTally(session.emulator.profile);
      // the pairs this kernel's programs of the run's types can reach (campaign.ts targets the same vocabulary)
      const pairs = statePairVocabulary(spec, session.kernel, cfg.progTypes.filter((t) => session.available[t]));
      seg = {
        session, tally: summaryTally(ruleIds, pairs), emulator, findings: [], bugs: bugTally(knownBugs), timeline: timelineTally(timeline), t0: performance.now() - elapsedMs,
      };
      const replay = replayTarget(session, session.codegen);
      for (const r of active) r.onStart?.({ runner: session.runner.name, kernel: session.kernel, seed: cfg.seed, total, replay });
    },
    onCase(c) {
      if (failed) return null;
      seg!.tally.add(c.result);
      seg!.timeline.add(c.result, failingBug(c.result, c.expected, c.observation), performance.now() - seg!.t0);
      if (c.emulator !== null) seg!.emulator?.add(c.emulator);
      for (const r of active) {
        try {
          const p = r.onCase(c.result, c.expected, c.observation, c.emulator);
          if (p) pending.push(p.catch(fail));
        } catch (e) {
          fail(e);
          return null;
        }
      }
      resultLines += 1;
      return jsonl ? `results.jsonl:${resultLines}` : null;
    },
    async onRecordedCase(line, counted) {
      if (counted) {
        seg!.tally.add(line.result);
        seg!.timeline.add(line.result, failingBug(line.result, line.prediction, line.observation), null);
        if (line.emulator !== undefined) seg!.emulator?.add(line.emulator);
      }
      for (const r of files) await r.onCase(line.result, line.prediction, line.observation, line.emulator ?? null);
      // the line is written again: later cases' `results.jsonl:<line>` count it
      resultLines += 1;
    },
    restoreSegments(done) {
      summaries.push(...done);
    },
    elapsedMs: () => (seg === null ? 0 : performance.now() - seg.t0),
    timeline: () => seg?.timeline.state() ?? { every: 1, samples: [] },
    async onFinding(f) {
      const s = seg!;
      try {
        const ref = await writeFinding(cfg.outDir, {
          id: f.id,
          scenario: f.checked.scenario,
          prediction: f.checked.expected,
          observation: f.checked.observation,
          result: f.checked.result,
          seed: f.seed,
          path: f.index === null ? null : `${f.index}${f.path ? `:${f.path}` : ''}`,
          kernel: s.session.kernel,
          runner: s.session.runner.name,
          // a campaign's finding is one of clang's objects unless clang's did not show it again (campaign.ts reproduces)
          replay: replayTarget(s.session, f.reproduced === false ? s.session.codegen : 'clang'),
          reproduced: f.reproduced,
          unshrunkBecause: f.unshrunkBecause,
        });
        s.findings.push(ref);
      } catch (e) {
        // half a finding is no finding: its directory goes, and the error line says it could not be written
        await rm(join(cfg.outDir, 'findings', f.id), { recursive: true, force: true });
        throw isNoSpace(e) ? new DiskFull(join(cfg.outDir, 'findings', f.id), e) : e;
      }
    },
    onBugCase(signature, kinds, c) {
      seg!.bugs.add(signature, kinds, c);
    },
    endSegment: () => close(),
    flush() {
      if (failed) return;
      for (const r of files) {
        try {
          r.flush?.();
        } catch (e) {
          fail(e);
          return;
        }
      }
    },
    async finish(stopped) {
      if (seg) close(stopped);
      await Promise.all(pending);
      for (const r of active) {
        try {
          await r.onEnd(summaries);
        } catch (e) {
          fail(e);
        }
      }
      // stopped before any kernel's session opened (a probe boot cut short): say so rather than list nothing
      const body = summaries.length === 1 ? summaries[0] : { kernels: summaries, ...(summaries.length === 0 ? { stopped } : {}) };
      await replaceFile(join(cfg.outDir, 'summary.json'), `${JSON.stringify(body, null, 2)}\n`).catch(fail);
      return { summaries, notWritten };
    },
  };
}
