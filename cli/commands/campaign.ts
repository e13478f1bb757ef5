import { join } from 'node:path';
import type fc from 'fast-check';
import { prefixScenario } from '../../generators/prefixScenario.ts';
import { scenario as scenarioArb } from '../../generators/scenario.ts';
import { findingId } from '../../reports/findingId.ts';
import { bugSignature } from '../../reports/bugSignature.ts';
import { unexplainedMismatches } from '../../reports/compare.ts';
import { dropAsPredicted } from '../../reports/dropAsPredicted.ts';
import { generateValues, shrinkBatched } from '../../reports/shrink.ts';
import { replaceFile } from '../../reports/replaceFile.ts';
import { loadCorpusDir, loadSpec, scenarioToYaml } from '../../specs/load.ts';
import type { ProgType, Scenario, Spec } from '../../types/index.ts';
import { EXIT } from '../../errors/exitCodes.ts';
import { Interrupted } from '../../errors/interrupted.ts';
import { KptrError } from '../../errors/KptrError.ts';
import { announceRunner, resolveFromArgv, type CliOptions, type RunConfig } from '../config.ts';
import { handleInterrupts } from '../interrupt.ts';
import { notWrittenError, openOutputs, type CampaignFinding, type Finished, type Outputs } from '../outputs.ts';
import { readCorpusSignatures, recordCorpusSignatures } from '../corpusSignatures.ts';
import { preflight } from '../preflight.ts';
import { checkScenarios, type CheckedCase } from '../pipeline.ts';
import { openSession, type Session } from '../session.ts';

/**
 * Scenarios generated and checked per runner call: a campaign's segment. Only a chunk's scenarios are in memory at a
 * time (results stream to the files as they come, the summary keeps counts), so memory is flat in --runs. Each chunk
 * boundary drains the runner's pipeline (the host compiles ahead, the vm boots once per chunk), so chunks are large.
 */
const CHUNK = 2000;

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
  readonly index: number | null;
  /** where its result is written (Outputs.onCase) */
  readonly result: string | null;
}

/** The next `n` values of an iterator (fewer at its end). */
function take<T>(it: Iterator<T>, n: number): T[] {
  const out: T[] = [];
  while (out.length < n) {
    const r = it.next();
    if (r.done) break;
    out.push(r.value);
  }
  return out;
}

/**
 * How a campaign stops: one signal for the runners, aborted by SIGINT / SIGTERM, by a write that failed, or by a
 * child that saw the terminal's Ctrl-C before the tool did (stop(Interrupted)); the first reason wins.
 */
interface Stop {
  readonly signal: AbortSignal;
  stop(reason: unknown): void;
}

/**
 * Generates, runs and compares the corpus and cfg.runs generated cases chunk by chunk; returns the failing ones.
 * Interrupted, it returns those failing so far; any other error is thrown.
 */
async function runCases(
  session: Session, spec: Spec, cfg: RunConfig, arb: fc.Arbitrary<Scenario>, corpus: readonly Scenario[], outputs: Outputs, run: Stop,
): Promise<Failing[]> {
  const { signal } = run;
  const failing: Failing[] = [];
  const check = async (scenarios: readonly Scenario[], values: readonly fc.Value<Scenario>[] | null, first: number): Promise<void> => {
    const written = new Map<string, string | null>();
    const cases = await checkScenarios({
      runner: session.runner, kernel: session.kernel, spec, scenarios, signal, emulator: session.emulator, onCase: (c) => written.set(c.scenario.id, outputs.onCase(c)),
    });
    const at = new Map(scenarios.map((s, k) => [s.id, k]));
    for (const c of cases) {
      if (c.result.status !== 'fail' && c.result.status !== 'error') continue;
      const k = at.get(c.scenario.id)!;
      failing.push({ checked: c, value: values?.[k] ?? null, index: values === null ? null : first + k, result: written.get(c.scenario.id) ?? null });
    }
  };
  try {
    for (let i = 0; i < corpus.length; i += CHUNK) {
      signal.throwIfAborted();
      await check(corpus.slice(i, i + CHUNK), null, 0);
    }
    const values = generateValues(arb, cfg.seed, cfg.runs);
    for (let i = 0; i < cfg.runs; i += CHUNK) {
      signal.throwIfAborted();
      const chunk = take(values, CHUNK);
      await check(chunk.map((v, k) => prefixScenario(v.value_, `s${cfg.seed}_${i + k}`)), chunk, i);
    }
  } catch (e) {
    if (!(e instanceof Interrupted)) throw e;
    run.stop(e);
  }
  return failing;
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

/**
 * `kptr-conform run`: a property-based campaign on one runner and one or more kernels. SIGINT / SIGTERM stop it: the
 * cases so far, their findings (unshrunk if shrinking was cut short), the summary and the reports are written, and it
 * exits 130 / 143. A write that fails (a full disk) stops it too: what could be written stays valid, exit 2.
 */
export async function campaign(opts: CliOptions): Promise<number> {
  const resolved = await resolveFromArgv('run', opts);
  const spec = loadSpec();
  // every corpus entry is checked before any work (the output directory included): a bad one is one line and exit 2,
  // never a finding
  const corpus = loadCorpus(resolved.corpusDir);
  const known = new Set(Object.keys(readCorpusSignatures(resolved.corpusDir)));
  const cfg = await preflight(resolved);
  announceRunner(cfg);
  const interrupt = handleInterrupts({
    stderr: process.stderr, exit: (code) => process.exit(code), writing: `the summary, reports and findings so far to ${cfg.outDir}`,
  });
  const halt = new AbortController();
  const run: Stop = { signal: halt.signal, stop: (reason) => { if (!halt.signal.aborted) halt.abort(reason); } };
  interrupt.signal.addEventListener('abort', () => run.stop(interrupt.signal.reason), { once: true });
  const { signal } = run;
  if (opts.seed === undefined && cfg.runs > 0) process.stderr.write(`kptr-conform: seed ${cfg.seed} (random; rerun with --seed ${cfg.seed})\n`);
  // a write that fails stops the run as a signal does: the runners kill their children and reject with the error
  const outputs = openOutputs(cfg, spec, { onFailure: run.stop, knownBugs: known });
  let failure: unknown = null;
  try {
    for (const kernelName of cfg.kernels) {
      signal.throwIfAborted();
      const session = await openSession(cfg, kernelName, spec, signal);
      const progTypes = cfg.progTypes.filter((t: ProgType) => session.available[t]);
      if (progTypes.length === 0) {
        throw new KptrError('KPTR_RUNNER_UNAVAILABLE', `none of --prog-types ${cfg.progTypes.join(',')} can run on ${session.kernel.release}`,
          'pick program types the runner supports (see `npx kptr-conform doctor`)');
      }
      const arb = scenarioArb({ mode: cfg.mode, progTypes, nrCpus: session.kernel.nrCpus });
      // the segment's clock (cases/s) starts before generation: generating is part of a campaign's cost
      outputs.startSegment(session, corpus.length + cfg.runs);
      const failing = await runCases(session, spec, cfg, arb, corpus, outputs, run);
      if (signal.aborted && !(signal.reason instanceof Interrupted)) throw signal.reason;
      const saved = await writeFindings(session, spec, cfg, arb, failing, outputs, run, known);
      if (cfg.corpusDir !== null && Object.keys(saved).length > 0) await recordCorpusSignatures(cfg.corpusDir, saved);
      if (signal.aborted) break;
      outputs.endSegment();
    }
  } catch (e) {
    if (e instanceof Interrupted) run.stop(e);
    else failure = e;
  }
  const received = signal.reason instanceof Interrupted ? signal.reason.signal : null;
  const stopped = received ?? (failure instanceof KptrError ? failure.code : failure === null ? null : 'error');
  let done: Finished;
  try {
    done = await outputs.finish(stopped);
  } finally {
    interrupt.dispose();
  }
  const unwritten = notWrittenError(done, failure);
  if (unwritten) throw unwritten;
  if (failure !== null) throw failure;
  if (received !== null) {
    const cases = done.summaries.reduce((n, x) => n + x.cases, 0);
    process.stderr.write(`kptr-conform: stopped by ${received} after ${cases} cases; wrote ${cfg.outDir}; rerun with --seed ${cfg.seed} to run them all\n`);
    return EXIT[received];
  }
  return done.summaries.some((x) => x.failed + x.errors > 0) ? EXIT.mismatch : EXIT.ok;
}
