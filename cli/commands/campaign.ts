import { existsSync } from 'node:fs';
import { mkdir, readdir, rename, rm, stat, writeFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import type fc from 'fast-check';
import { prefixScenario } from '../../generators/prefixScenario.ts';
import { bugSignature } from '../../reports/bugSignature.ts';
import { unexplainedMismatches } from '../../judge/compare.ts';
import { dropAsPredicted } from '../../reports/dropAsPredicted.ts';
import { findingId } from '../../reports/findingId.ts';
import { readResultLines, type ResultLine } from '../../reports/readResults.ts';
import { shrinkBatched, STREAM_VERSION, valueAt } from '../../campaign/shrink.ts';
import type { Summary } from '../../reports/summary.ts';
import { replaceFile } from '../../reports/replaceFile.ts';
import { loadCorpusDir, loadSpec, scenarioToYaml } from '../../specs/load.ts';
import type { Prediction, ProgType, Scenario, Spec } from '../../types/index.ts';
import { EXIT } from '../../errors/exitCodes.ts';
import { Interrupted } from '../../errors/interrupted.ts';
import { KptrError } from '../../errors/KptrError.ts';
import { bugCount, budgetSpent } from '../campaignBudget.ts';
import { CHECKPOINT_FILE, checkpointOptions, readCheckpoint, resumedOptions, type Checkpoint, type FailingRef } from '../checkpoint.ts';
import { readCorpusSignatures, recordCorpusSignatures } from '../corpusSignatures.ts';
import { announceRunner, resolveFromArgv, type CliOptions, type RunConfig, type Shard } from '../config.ts';
import { runStoppable, stoppedBy, type Stop } from '../stoppable.ts';
import { openOutputs, type CampaignFinding, type Outputs } from '../outputs.ts';
import { preflight } from '../preflight.ts';
import { campaignArbitrary, checkScenarios, type CheckedCase } from '../pipeline.ts';
import { createPredictor, type Predictor } from '../predictor.ts';
import { openSession, predictThreads, type Session } from '../session.ts';

/** Saved scenarios replayed before any new case: the regression corpus (like a property-testing example database). */
function loadCorpus(dir: string | null): Scenario[] {
  return dir === null ? [] : loadCorpusDir(dir);
}

/**
 * A splat or a runner failure may depend on timing, on what ran before, or on the emulator, and any mismatch seen on a
 * directly written object may come from that object rather than the kernel: run the scenario again, alone, compiled
 * from C by clang, and say whether the mismatch came back (null: a verdict, message or value mismatch seen on
 * clang's object already, which needs no check).
 */
async function reproduces(session: Session, spec: Spec, failing: CheckedCase, signal: AbortSignal): Promise<boolean | null> {
  if (session.codegen === 'clang' && !failing.result.mismatches.some((m) => m.kind === 'splat' || m.kind === 'runner_error')) return null;
  const [again] = await checkScenarios({ runner: session.clangRunner(), kernel: session.kernel, spec, scenarios: [failing.scenario], signal });
  return again !== undefined && again.result.status === 'fail';
}

/** The programs (names without the scenario's prefix) that an unexplained mismatch of the case names. */
function showingBug(c: CheckedCase): Set<string> {
  const prefix = `${c.scenario.id}_`;
  return new Set(unexplainedMismatches(c.expected, c.observation)
    .flatMap((m) => (m.program?.startsWith(prefix) ? [m.program.slice(prefix.length)] : [])));
}

/**
 * Shrinks one failing generated case on the same runner with clang's objects, keeping its bug signature: fast-check's
 * shrinker first, then what still shows nothing of the bug is dropped (reports/dropAsPredicted.ts). Stopped by
 * `signal`, it returns the smallest failing case reached so far, with `interrupted` set.
 */
async function shrinkCase(
  session: Session, spec: Spec, cfg: RunConfig, arb: fc.Arbitrary<Scenario>, start: fc.Value<Scenario>, failing: CheckedCase, signal: AbortSignal,
): Promise<{ checked: CheckedCase; path: string; steps: number; interrupted: boolean }> {
  const want = bugSignature(failing.expected, failing.observation);
  let round = 0;
  let best = failing;
  /** checks candidates (unprefixed) in one runner call; per candidate, its case if it shows the same bug, else null */
  const check = async (candidates: readonly Scenario[], tag: string): Promise<(CheckedCase | null)[]> => {
    round++;
    const named = candidates.map((s, j) => prefixScenario(s, `${failing.scenario.id}_${tag}${round}_${j}`));
    const checked = await checkScenarios({ runner: session.clangRunner(), kernel: session.kernel, spec, scenarios: named, signal });
    const byId = new Map(checked.map((c) => [c.scenario.id, c]));
    const hits = named.map((s) => byId.get(s.id) ?? null)
      .map((c) => (c && c.result.status === 'fail' && bugSignature(c.expected, c.observation) === want ? c : null));
    // both stages move to the first hit of a batch; keep that one's observation for the report
    const first = hits.find((c) => c !== null);
    if (first) best = first;
    return hits;
  };
  const res = await shrinkBatched(arb, start, async (candidates) => (await check(candidates, 'k')).map((c) => c !== null), {
    batchSize: session.shrinkBatch, maxSteps: cfg.maxShrinks, maxChecks: cfg.maxShrinks * session.shrinkBatch, maxRounds: session.shrinkRounds, signal,
  });
  if (res.interrupted) return { checked: best, path: res.path, steps: res.steps, interrupted: true };
  const drop = await dropAsPredicted(res.value, showingBug(best), async (candidates) => (await check(candidates, 'd')).map((c) => (c === null ? null : showingBug(c))), {
    maxRounds: Math.max(0, session.shrinkRounds - round), signal,
  });
  const path = drop.dropped === 0 ? res.path : `${res.path} (then ${drop.dropped} program(s) or step(s) that show nothing of the bug removed)`;
  return { checked: best, path, steps: res.steps + drop.dropped, interrupted: drop.interrupted };
}

/** A case that failed, kept (with its generated value, for shrinking) until the findings are written. */
interface Failing {
  readonly checked: CheckedCase;
  /** null for a corpus entry */
  readonly value: fc.Value<Scenario> | null;
  /** the value's index in the seed's stream (a checkpoint regenerates the value from it) */
  readonly index: number | null;
  /** where its result is written (Outputs.onCase) */
  readonly result: string | null;
}

/** Where the current kernel's segment stands: what its checkpoint records. */
interface Progress {
  corpusDone: boolean;
  /** the index of the next value of the seed's stream not yet run */
  next: number;
  /** cases reported (results.jsonl lines) in the whole run */
  cases: number;
  readonly failing: Failing[];
}

/** A generated case: its fast-check value (for shrinking) and its index in the seed's stream. */
interface Generated {
  readonly value: fc.Value<Scenario>;
  readonly index: number;
}

/** Cases of a segment prepared for one runner call: generated, named, predicted; `at` is the stream's index after them. */
interface Slice {
  readonly chunk: readonly Generated[];
  readonly scenarios: readonly Scenario[];
  readonly predicted: readonly Prediction[];
  readonly at: number;
}

/** cases generated between two turns of the event loop (each ~0.3 ms of work) */
const YIELD_EVERY = 8;

/** Does `--shard k/n` run case `index` of the seed's stream (case i goes to shard i mod n + 1)? */
export function shardRuns(shard: Shard | null, index: number): boolean {
  return shard === null || index % shard.n === shard.k - 1;
}

/** The cases a segment will run (the console's ETA), null when a --duration rather than --runs ends it. */
export function casesToRun(cfg: Pick<RunConfig, 'runs' | 'shard'>, corpus: number): number | null {
  if (!Number.isFinite(cfg.runs)) return null;
  if (cfg.shard === null) return corpus + cfg.runs;
  const { k, n } = cfg.shard;
  return (k === 1 ? corpus : 0) + Math.max(0, Math.ceil((cfg.runs - (k - 1)) / n));
}

/**
 * Generates, runs and compares the corpus and the seed's cases from `progress` on, chunk by chunk, until cfg.runs or
 * the budget is spent; after each chunk, `chunkDone` (the checkpoint). Interrupted, it returns; any other error is thrown.
 */
async function runCases(
  session: Session, spec: Spec, cfg: RunConfig, arb: fc.Arbitrary<Scenario>, corpus: readonly Scenario[], outputs: Outputs, run: Stop,
  progress: Progress, spent: () => boolean, chunkDone: () => Promise<void>, predictor: Predictor,
): Promise<void> {
  const { signal } = run;
  const check = async (scenarios: readonly Scenario[], values: readonly Generated[] | null, predicted?: readonly Prediction[]): Promise<void> => {
    const written = new Map<string, string | null>();
    const cases = await checkScenarios({
      runner: session.runner, kernel: session.kernel, spec, scenarios, signal, emulator: session.emulator, ...(predicted ? { predicted } : {}),
      onCase: (c) => { progress.cases += 1; written.set(c.scenario.id, outputs.onCase(c)); },
    });
    const at = new Map(scenarios.map((s, k) => [s.id, k]));
    for (const c of cases) {
      if (c.result.status !== 'fail' && c.result.status !== 'error') continue;
      const v = values?.[at.get(c.scenario.id)!] ?? null;
      progress.failing.push({ checked: c, value: v?.value ?? null, index: v?.index ?? null, result: written.get(c.scenario.id) ?? null });
    }
  };
  try {
    if (!progress.corpusDone) {
      // a sharded campaign runs the corpus once, in its first shard, so the shards add up to the unsharded run
      for (let i = 0; i < corpus.length && (cfg.shard === null || cfg.shard.k === 1); i += cfg.segment) {
        signal.throwIfAborted();
        await check(corpus.slice(i, i + cfg.segment), null);
      }
      progress.corpusDone = true;
      await chunkDone();
    }
    /**
     * The next `want` cases of this shard from `from` on, generated and predicted. It gives the event loop a turn
     * every few cases: it runs while the runner works on the slice before (harness waves, threads' answers, reports).
     */
    const prepare = async (from: number, want: number): Promise<Slice> => {
      const chunk: Generated[] = [];
      const scenarios: Scenario[] = [];
      let at = from;
      // value i is drawn from (seed, i) alone: a shard generates only its own
      for (; chunk.length < want && at < cfg.runs; at++) {
        if (!shardRuns(cfg.shard, at)) continue;
        const value = valueAt(arb, cfg.seed, at);
        chunk.push({ value, index: at });
        scenarios.push(prefixScenario(value.value_, `s${cfg.seed}_${at}`));
        if (chunk.length % YIELD_EVERY === 0) await new Promise(setImmediate);
      }
      return { chunk, scenarios, predicted: await predictor.predict(scenarios, signal), at };
    };
    // a segment (cfg.segment cases, then a checkpoint) goes to the runner in slices of session.slice cases: the next
    // slice is prepared while the runner works on this one, the next segment's first one included (it is only used if
    // the budget allows it, and the checkpoint moves only past checked segments)
    const sliceOf = (done: number): number => Math.min(session.slice, cfg.segment - done);
    let inSegment = 0;
    let next = progress.next < cfg.runs && !spent() ? prepare(progress.next, sliceOf(0)) : null;
    while (next !== null) {
      const { chunk, scenarios, predicted, at } = await next;
      signal.throwIfAborted();
      const checking = check(scenarios, chunk, predicted);
      inSegment += chunk.length;
      const segmentEnds = inSegment >= cfg.segment || at >= cfg.runs;
      if (segmentEnds) inSegment = 0;
      next = at < cfg.runs ? prepare(at, sliceOf(inSegment)) : null;
      // a generation error surfaces when the slice is taken, not as an unhandled rejection meanwhile
      next?.catch(() => {});
      await checking;
      if (!segmentEnds) continue;
      progress.next = at;
      await chunkDone();
      if (spent()) next = null;
    }
  } catch (e) {
    if (!(e instanceof Interrupted)) throw e;
    run.stop(e);
  }
}

/**
 * Buckets the failing cases by bug signature and writes a finding for the first `--shrinks-per-bug` of each bug,
 * shrinking generated ones first; the other cases of a bug are only listed under it. Once the run is stopping, the
 * rest are written as they were seen, unshrunk and saying so, without running anything more. Returns the signatures
 * of the new bugs saved to the corpus, each with its finding id.
 */
async function writeFindings(
  session: Session, spec: Spec, cfg: RunConfig, arb: fc.Arbitrary<Scenario>, failing: readonly Failing[], outputs: Outputs, run: Stop,
  known: ReadonlySet<string>,
): Promise<Record<string, string>> {
  const { signal } = run;
  const why = (): string => (signal.reason instanceof Interrupted ? signal.reason.message : 'the run was stopping');
  const findingsOf = new Map<string, number>();
  const saved: Record<string, string> = {};
  for (const f of failing) {
    // every failing case has an unexplained mismatch, so a signature
    const signature = bugSignature(f.checked.expected, f.checked.observation)!;
    const kinds = [...new Set(unexplainedMismatches(f.checked.expected, f.checked.observation).map((m) => m.kind))];
    const listed = { scenarioId: f.checked.scenario.id, seed: f.index !== null ? cfg.seed : null, index: f.index, result: f.result };
    const n = findingsOf.get(signature) ?? 0;
    if (n >= cfg.shrinksPerBug) {
      outputs.onBugCase(signature, kinds, { ...listed, finding: null });
      continue;
    }
    findingsOf.set(signature, n + 1);
    let reproduced: boolean | null = null;
    let shrunk: Awaited<ReturnType<typeof shrinkCase>> | null = null;
    if (!signal.aborted) {
      try {
        reproduced = await reproduces(session, spec, f.checked, signal);
        // a runner failure nothing explains (a guest that stopped answering) is a finding too, kept as it came: the
        // shrinker keeps a candidate only if it fails the same way, and a runner error is not a verdict or a value
        const shrinkable = cfg.shrink && f.value !== null && reproduced !== false && f.checked.result.status === 'fail';
        if (shrinkable) shrunk = await shrinkCase(session, spec, cfg, arb, f.value!, f.checked, signal);
      } catch (e) {
        if (!(e instanceof Interrupted)) throw e;
        run.stop(e);
      }
    }
    const cutShort = cfg.shrink && f.value !== null && (shrunk === null ? signal.aborted : shrunk.interrupted);
    const checked = shrunk?.checked ?? f.checked;
    const finding: CampaignFinding = {
      id: findingId(checked.result),
      checked,
      seed: listed.seed,
      index: f.index,
      path: shrunk?.path ?? '',
      reproduced,
      unshrunkBecause: cutShort ? why() : null,
    };
    await outputs.onFinding(finding);
    outputs.onBugCase(signature, kinds, { ...listed, finding: finding.id });
    // the corpus replays findings before every campaign: one that did not come back alone would only be noise, and a
    // bug it already holds needs no second entry
    if (cfg.saveFindings && cfg.corpusDir && reproduced !== false && !known.has(signature) && saved[signature] === undefined) {
      await replaceFile(join(cfg.corpusDir, `${finding.id}.yaml`), scenarioToYaml(finding.checked.scenario));
      saved[signature] = finding.id;
    }
  }
  return saved;
}

/** A failing case an interrupted campaign recorded, made whole again from its results.jsonl line and its value. */
function restoredFailing(
  ref: FailingRef, line: ResultLine, result: string | null, arb: fc.Arbitrary<Scenario>, seed: number, corpus: readonly Scenario[],
): Failing {
  const value = ref.index === null ? null : valueAt(arb, seed, ref.index);
  const scenario = value === null ? corpus.find((s) => s.id === ref.scenarioId) : prefixScenario(value.value_, ref.scenarioId);
  if (scenario === undefined) {
    throw new KptrError('KPTR_USAGE', `--resume: the corpus no longer holds ${ref.scenarioId}, a failing case of the interrupted campaign`, 'resume with the corpus the campaign started with');
  }
  const prediction = line.prediction!;
  return {
    checked: { scenario, expected: prediction, oracle: prediction, observation: line.observation, result: line.result, oracleResult: null, emulator: line.emulator ?? null },
    value, index: ref.index, result,
  };
}

/**
 * Makes an interrupted campaign's output directory ready to continue: results.jsonl set aside (its lines up to the
 * checkpoint are replayed into the new files), the other reports and the findings of the unfinished segment removed
 * (they are written again). Returns the set-aside file.
 */
async function reopenOutDir(outDir: string, c: Checkpoint): Promise<string> {
  const aside = join(outDir, '.work', 'resumed-results.jsonl');
  await mkdir(dirname(aside), { recursive: true });
  if (existsSync(join(outDir, 'results.jsonl'))) await rename(join(outDir, 'results.jsonl'), aside);
  else await writeFile(aside, '');
  const kept = new Set(c.done.flatMap((s) => s.findings.map((f) => f.id)));
  const findings = await readdir(join(outDir, 'findings')).catch(() => [] as string[]);
  for (const id of findings) if (!kept.has(id)) await rm(join(outDir, 'findings', id), { recursive: true, force: true });
  for (const f of ['junit.xml', 'test_progs.json', 'report.html', 'kernels.json', 'summary.json']) await rm(join(outDir, f), { force: true });
  return aside;
}

/**
 * `kptr-conform run`: a property-based campaign on one runner and one or more kernels, for --runs cases or a
 * --duration, or until --until-bugs; `--resume DIR` continues one from its checkpoint. SIGINT / SIGTERM stop it: the
 * cases so far, their findings (unshrunk if shrinking was cut short), the summary and the reports are written, and it
 * exits 130 / 143. A write that fails (a full disk) stops it too: what could be written stays valid, exit 2.
 * @param typed the options typed on the command line (cli/program.ts)
 */
export async function campaign(typed: CliOptions): Promise<number> {
  const resumed = typed.resume === undefined ? null : readCheckpoint(resolve(typed.resume));
  const opts = resumed === null ? typed : resumedOptions(resumed, typed, typed.resume!);
  const resolved = await resolveFromArgv('run', opts);
  const spec = loadSpec();
  // every corpus entry is checked before any work (the output directory included): a bad one is one line and exit 2,
  // never a finding
  const corpus = loadCorpus(resolved.corpusDir);
  const known = new Set(Object.keys(readCorpusSignatures(resolved.corpusDir)));
  const cfg = await preflight(resolved, { resume: resumed !== null });
  announceRunner(cfg);
  if (opts.seed === undefined && cfg.runs > 0) process.stderr.write(`kptr-conform: seed ${cfg.seed} (random; rerun with --seed ${cfg.seed})\n`);
  const stored = checkpointOptions(opts, cfg);
  const budget = { segmentMs: cfg.durationMs === null ? null : cfg.durationMs / cfg.kernels.length, untilBugs: cfg.untilBugs };
  const { done: finished, received } = await runStoppable(
    `the summary, reports and findings so far to ${cfg.outDir}`,
    // a write that fails stops the run as a signal does: the runners kill their children and reject with the error
    (onFailure) => openOutputs(cfg, spec, { onFailure, knownBugs: known }),
    async (outputs, run) => {
      const { signal } = run;
      const aside = resumed === null ? null : await reopenOutDir(cfg.outDir, resumed);
      const done: Summary[] = [...(resumed?.done ?? [])];
      outputs.restoreSegments(done);
      let progress: Progress = { corpusDone: false, next: 0, cases: resumed?.cases ?? 0, failing: [] };
      // a checkpoint needs results.jsonl: a resumed campaign rebuilds every other report from it
      const checkpoint = async (complete: boolean): Promise<void> => {
        if (!cfg.formats.includes('jsonl')) return;
        outputs.flush();
        const resultsBytes = await stat(join(cfg.outDir, 'results.jsonl')).then((s) => s.size, () => 0);
        const c: Checkpoint = {
          version: 2, options: stored, done, corpusDone: progress.corpusDone, stream: { version: STREAM_VERSION, next: progress.next }, resultsBytes,
          cases: progress.cases, elapsedMs: outputs.elapsedMs(), timeline: outputs.timeline(), complete,
          failing: progress.failing.map((f) => ({ scenarioId: f.checked.scenario.id, index: f.index })),
        };
        await replaceFile(join(cfg.outDir, CHECKPOINT_FILE), `${JSON.stringify(c)}\n`);
      };
      for (const kernelName of cfg.kernels.slice(done.length)) {
        signal.throwIfAborted();
        if (budgetSpent(budget, 0, bugCount([], done)) === 'bugs') break;
        const session = await openSession(cfg, kernelName, spec, signal);
        const progTypes = cfg.progTypes.filter((t: ProgType) => session.available[t]);
        if (progTypes.length === 0) {
          throw new KptrError('KPTR_RUNNER_UNAVAILABLE', `none of --prog-types ${cfg.progTypes.join(',')} can run on ${session.kernel.release}`,
            'pick program types the runner supports (see `npx kptr-conform doctor`)');
        }
        const arb = campaignArbitrary(spec, session.runner.name, session.kernel, progTypes, cfg.mode);
        // the segment's clock (cases/s) starts before generation: generating is part of a campaign's cost
        const fresh = aside === null || done.length > (resumed?.done.length ?? 0);
        outputs.startSegment(session, casesToRun(cfg, corpus.length), fresh ? 0 : resumed!.elapsedMs, fresh ? null : resumed!.timeline);
        progress = { corpusDone: false, next: 0, cases: progress.cases, failing: [] };
        if (!fresh) {
          const want = new Map(resumed!.failing.map((f) => [f.scenarioId, f]));
          const earlier = resumed!.done.reduce((n, s) => n + s.cases, 0);
          let k = 0;
          for await (const line of readResultLines(aside!, resumed!.resultsBytes)) {
            await outputs.onRecordedCase(line, k++ >= earlier);
            const ref = want.get(line.scenarioId);
            if (ref !== undefined && k > earlier) progress.failing.push(restoredFailing(ref, line, cfg.formats.includes('jsonl') ? `results.jsonl:${k}` : null, arb, cfg.seed, corpus));
          }
          progress = { ...progress, corpusDone: resumed!.corpusDone, next: resumed!.stream.next };
        }
        // a campaign stopped before its first segment ends can be resumed too
        await checkpoint(false);
        const spent = (): boolean => budgetSpent(budget, outputs.elapsedMs(), bugCount(progress.failing.map((f) => f.checked), done)) !== null;
        const predictor = createPredictor(session.kernel, spec, predictThreads());
        try {
          await runCases(session, spec, cfg, arb, corpus, outputs, run, progress, spent, () => checkpoint(false), predictor);
        } finally {
          await predictor.close();
        }
        if (signal.aborted && !(signal.reason instanceof Interrupted)) throw signal.reason;
        const saved = await writeFindings(session, spec, cfg, arb, progress.failing, outputs, run, known);
        if (cfg.corpusDir !== null && Object.keys(saved).length > 0) await recordCorpusSignatures(cfg.corpusDir, saved);
        if (signal.aborted) break;
        done.push(outputs.endSegment());
        progress = { ...progress, failing: [] };
      }
      if (!signal.aborted) await checkpoint(true);
    },
  );
  if (received !== null) {
    const again = cfg.formats.includes('jsonl') ? `run --resume ${cfg.outDir} to continue` : `rerun with --seed ${cfg.seed} to run them all`;
    return stoppedBy(received, finished, cfg.outDir, `; ${again}`);
  }
  return finished.summaries.some((x) => x.failed + x.errors > 0) ? EXIT.mismatch : EXIT.ok;
}
