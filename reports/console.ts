import { join } from 'node:path';
import type { CaseResult, Observation, Prediction } from '../types/index.ts';
import { caseRule } from './caseRule.ts';
import { emulatorCaseLines, emulatorSummaryLine, type EmulatorComparison } from '../judge/emulatorComparison.ts';
import { findingId } from './findingId.ts';
import { kernelCaseCollector, kernelDisagreements, type ProgramAcrossKernels } from './kernelDisagreements.ts';
import { kernelDivergenceLines } from './kernelDivergences.ts';
import { printable } from './printable.ts';
import { replayCommand, selftestCommand, type ReplayTarget } from './replayCommand.ts';
import type { Reporter, ReporterOptions, RerunSource, RunMeta } from './reporter.ts';
import { bugCountsLine } from './bugBuckets.ts';
import { statePairText, type FindingRef, type Summary } from './summary.ts';

/** Progress every this many cases when stdout is not a terminal and the total is unknown. */
const PLAIN_PROGRESS_EVERY = 100;

function formatEta(seconds: number): string {
  if (!Number.isFinite(seconds)) return '?';
  const s = Math.max(0, Math.round(seconds));
  return s >= 60 ? `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s` : `${s}s`;
}

/** The paste-ready command that runs a failing case again, or where its finding will be (RerunSource). */
function rerunLine(r: CaseResult, outDir: string, target: ReplayTarget, rerun: RerunSource): string {
  switch (rerun.kind) {
    case 'finding': return `  replay: ${replayCommand(join(outDir, 'findings', findingId(r), 'scenario.yaml'), target)}`;
    case 'shrunk-finding': return `  finding: written under ${join(outDir, 'findings')}/ as the campaign ends, a generated case shrunk first (the summary gives the replay command)`;
    case 'file': return `  replay: ${replayCommand(rerun.file, target)}`;
    case 'selftest': return `  again: ${selftestCommand(r.scenarioId, target)}`;
  }
}

/** One failure line: everything needed to reproduce it, and how to run it again. */
export function failureLines(r: CaseResult, p: Prediction | null, outDir: string, target: ReplayTarget, rerun: RerunSource): string {
  const where = rerunLine(r, outDir, target, rerun);
  const head = `${r.status.toUpperCase()} ${r.scenarioId} kernel=${r.kernelRelease} runner=${r.runner} rule=${caseRule(p)}`;
  const body = r.mismatches.map((m) => `  ${m.kind}${m.program === null ? '' : ` ${m.program}`}${m.step === null ? '' : ` step ${m.step}`}: expected ${m.expected}; observed ${m.observed}`);
  return printable([head, ...body, where].join('\n'));
}

function summaryTable(summaries: readonly Summary[]): string {
  const header = ['runner', 'kernel', 'cases', 'pass', 'fail', 'skip', 'diverg', 'error', 'rules', 'cases/s'];
  const rows = summaries.map((s) => [
    s.runner, s.kernel.release, s.cases, s.passed, s.failed, s.skipped, s.divergent, s.errors,
    `${s.ruleCoverage.hit}/${s.ruleCoverage.total}`, s.casesPerSecond,
  ].map(String));
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: readonly string[]): string => cells.map((c, i) => c.padEnd(widths[i]!)).join('  ').trimEnd();
  const findings = summaries.flatMap(findingLines);
  const stopped = summaries.flatMap((s) => (s.stopped === null ? [] : [`stopped early (${s.stopped}): ${s.runner} ${s.kernel.release} ran ${s.cases} cases${s.seed === null ? '' : `; rerun with --seed ${s.seed}`}`]));
  const divergences = summaries.flatMap((s) => kernelDivergenceLines(s.knownDivergences, s.kernel.release));
  const emulator = summaries.flatMap((s) => (s.emulator === null ? [] : [`${s.kernel.release}: ${emulatorSummaryLine(s.emulator)}`]));
  const mapOps = summaries.flatMap((s) => [...exerciseLines(s), ...mapOpLines(s)]);
  const pairs = summaries.flatMap((s) => (s.statePairCoverage === undefined ? [] : [`state pairs on ${s.kernel.release}: ${statePairText(s.statePairCoverage)}`]));
  return [line(header), ...rows.map(line), ...pairs, ...mapOps, ...divergences, ...emulator, ...stopped, ...findings].join('\n');
}

function findingLine(f: FindingRef): string {
  return `finding ${f.id} (${f.kinds.join(', ')}${f.reproduced === false ? '; not reproduced' : ''}${f.unshrunkBecause === null ? '' : `; not fully shrunk: ${f.unshrunkBecause}`}): ${f.replay}`;
}

/** Other cases of a bug named on the console; summary.json lists them all. */
const MAX_LISTED_CASES = 5;

/** A campaign's findings under their bugs (bugs and cases counted apart); selftests' and replay's as they are. */
function findingLines(s: Summary): string[] {
  const bugs = Object.entries(s.bugs);
  const inBug = new Set(bugs.flatMap(([, b]) => b.cases.flatMap((c) => (c.finding === null ? [] : [c.finding]))));
  const byId = new Map(s.findings.map((f) => [f.id, f]));
  const lines = bugs.length === 0 ? [] : [`${s.runner} ${s.kernel.release}: ${bugCountsLine(s.bugs)}`];
  for (const [signature, b] of bugs) {
    const others = b.cases.filter((c) => c.finding === null);
    const listed = others.slice(0, MAX_LISTED_CASES).map((c) => `${c.scenarioId}${c.result === null ? '' : ` (${c.result})`}`);
    const more = others.length > MAX_LISTED_CASES ? [`… ${others.length - MAX_LISTED_CASES} more in summary.json`] : [];
    lines.push(
      `bug (${b.seenBefore ? 'seen again' : 'new'}, ${b.cases.length} case${b.cases.length === 1 ? '' : 's'}): ${signature}`,
      ...b.cases.flatMap((c) => (c.finding !== null && byId.has(c.finding) ? [`  ${findingLine(byId.get(c.finding)!)}`] : [])),
      ...(listed.length === 0 ? [] : [`  also: ${[...listed, ...more].join(', ')}`]),
    );
  }
  return [...lines, ...s.findings.filter((f) => !inBug.has(f.id)).map(findingLine)];
}

/** Cases by the kinds of schedule step and kptr home they held (a summary from before the field has none). */
function exerciseLines(s: Summary): string[] {
  const c = s.exerciseCoverage ?? {};
  const of = (word: string): string => Object.entries(c).filter(([k]) => k.startsWith(`${word} `)).map(([k, n]) => `${k.slice(word.length + 1)} ${n}`).join(', ');
  const parts = [['schedule step', of('step')], ['kptr home', of('home')]].filter(([, list]) => list !== '').map(([what, list]) => `by ${what}: ${list}`);
  return parts.length === 0 ? [] : [`cases on ${s.kernel.release} ${parts.join('; ')}`];
}

/** Userspace map operations a run executed, by operation and by map type (summary.json has every combination). */
function mapOpLines(s: Summary): string[] {
  const c = s.mapOpCoverage;
  if (Object.keys(c.byKind).length === 0) return [];
  const list = (counts: Readonly<Record<string, number>>): string => Object.entries(counts).map(([k, n]) => `${k} ${n}`).join(', ');
  return [`userspace map operations on ${s.kernel.release}: ${list(c.byKind)}; by map type: ${list(c.byMapType)}`];
}

/** Programs shown in the console's kernel comparison; kernels.json and report.html hold them all. */
const MAX_DISAGREEMENT_LINES = 20;

/** After a run over several kernels: where they disagree with each other, and where with the oracle. */
function disagreementLines(rows: readonly ProgramAcrossKernels[], kernels: number): string {
  const between = rows.filter((r) => r.kernelsDisagree).length;
  const oracle = rows.filter((r) => r.oracleDisagrees).length;
  const head = `${kernels} kernels: they disagree with each other on ${between} program(s); some kernel disagrees with the oracle on ${oracle}`;
  const shown = [...rows].sort((a, b) => Number(b.oracleDisagrees) - Number(a.oracleDisagrees)).slice(0, MAX_DISAGREEMENT_LINES);
  const lines = shown.map((r) => `  ${r.oracleDisagrees ? 'ORACLE' : 'kernels'} ${r.scenarioId}/${r.program}: ${r.byKernel.map((k) => `${k.kernel.split(' ')[1]}=${k.observed}${k.status === 'fail' || k.status === 'error' ? ` (predicted ${k.predicted})` : ''}`).join('  ')}`);
  const more = rows.length > shown.length ? [`  … ${rows.length - shown.length} more in kernels.json`] : [];
  return [head, ...lines, ...more].join('\n');
}

/**
 * Human output. On a terminal: one progress line rewritten with `\r` (cases, cases/s, ETA when the total is known,
 * mismatches so far), failures printed above it as they come; otherwise plain progress lines now and then.
 * `quiet`: only the summary table. `json`: only the summaries, one JSON object per line.
 */
export function consoleReporter(options: ReporterOptions): Reporter {
  const { stdout, isTTY, quiet, json, clock, outDir, rerun } = options;
  const live = !quiet && !json;
  let meta: RunMeta | null = null;
  let started = 0;
  let done = 0;
  let failing = 0;
  let progressShown = false;
  const cases = kernelCaseCollector(options.kernels);

  const progress = (): string => {
    const elapsed = Math.max(clock() - started, 1) / 1000;
    const rate = done / elapsed;
    const total = meta?.total ?? null;
    const eta = total === null ? '' : `  ETA ${formatEta((total - done) / rate)}`;
    const where = meta === null ? '' : `[${meta.runner} ${meta.kernel.release}] `;
    return `${where}${done}${total === null ? '' : `/${total}`} cases  ${rate.toFixed(1)}/s${eta}  ${failing} mismatching`;
  };
  const clearProgress = (): void => {
    if (isTTY && progressShown) stdout.write('\r\x1b[K');
    progressShown = false;
  };

  return {
    onStart(m) {
      meta = m;
      started = clock();
      done = 0;
      failing = 0;
    },
    onCase(r, p: Prediction | null, o: Observation, emulator: EmulatorComparison | null) {
      cases.add(r, p, o);
      done += 1;
      if (r.status === 'fail' || r.status === 'error') failing += 1;
      if (!live) return;
      if (r.status === 'fail' || r.status === 'error') {
        clearProgress();
        stdout.write(`${failureLines(r, p, outDir, meta!.replay, rerun)}\n`);
      }
      const differs = emulator === null ? [] : emulatorCaseLines(r.scenarioId, emulator);
      if (differs.length > 0) {
        clearProgress();
        stdout.write(`${printable(differs.join('\n'))}\n`);
      }
      if (isTTY) {
        stdout.write(`\r\x1b[K${progress()}`);
        progressShown = true;
        return;
      }
      const total = meta?.total ?? null;
      const every = total === null ? PLAIN_PROGRESS_EVERY : Math.max(1, Math.ceil(total / 10));
      if (done % every === 0 || done === total) stdout.write(`${progress()}\n`);
    },
    onEnd(summaries) {
      clearProgress();
      if (json) {
        for (const s of summaries) stdout.write(`${JSON.stringify(s)}\n`);
        return;
      }
      stdout.write(`${summaryTable(summaries)}\n`);
      const runs = cases.runs();
      if (runs.size > 1 && !quiet) stdout.write(`\n${disagreementLines(kernelDisagreements(runs), runs.size)}\n`);
    },
  };
}
