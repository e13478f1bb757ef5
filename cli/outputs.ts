import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { reporters, type Reporter, type ReporterName, type RerunSource } from '../reports/reporter.ts';
import { writeFinding } from '../reports/reproducer.ts';
import { summarize, type FindingRef, type Summary } from '../reports/summary.ts';
import type { CaseResult, Spec } from '../types/index.ts';
import type { RunConfig } from './config.ts';
import { replayTarget } from './preflight.ts';
import type { CheckedCase } from './pipeline.ts';
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
}

/**
 * Everything one command writes: reporters (console, files) fed case by case, findings, and summary.json.
 * A run over several kernels is several segments. Whatever was computed is written even when the run stops on an error.
 */
export interface Outputs {
  startSegment(session: Session, total: number): void;
  onCase(c: CheckedCase): void;
  onFinding(f: CampaignFinding): Promise<void>;
  endSegment(): Summary;
  /** reporters' onEnd and summary.json; returns one Summary per segment */
  finish(): Promise<readonly Summary[]>;
}

/** `rerun`: how a failing case is run again (a campaign's findings by default; selftests and replay say theirs). */
export function openOutputs(cfg: RunConfig, spec: Spec, rerun: RerunSource = { kind: cfg.shrink ? 'shrunk-finding' : 'finding' }): Outputs {
  mkdirSync(cfg.outDir, { recursive: true });
  const active: Reporter[] = cfg.formats.map((name) => reporters[name as ReporterName]({
    outDir: cfg.outDir,
    stdout: process.stdout,
    isTTY: process.stdout.isTTY === true,
    quiet: cfg.quiet,
    rerun,
    json: cfg.json,
    clock: () => performance.now(),
  }));
  const summaries: Summary[] = [];
  const pending: Promise<unknown>[] = [];
  let seg: { session: Session; results: CaseResult[]; findings: FindingRef[]; t0: number } | null = null;
  const ruleIds = spec.rules.map((r) => r.id);

  const close = (): Summary => {
    const s = seg!;
    const summary: Summary = {
      ...summarize(s.results, {
        runner: s.session.runner.name, kernel: s.session.kernel, seed: cfg.runs > 0 && cfg.seed !== null ? cfg.seed : null,
        durationMs: performance.now() - s.t0, ruleIds,
      }),
      findings: s.findings,
    };
    summaries.push(summary);
    seg = null;
    return summary;
  };

  return {
    startSegment(session, total) {
      if (seg) close();
      seg = { session, results: [], findings: [], t0: performance.now() };
      const replay = replayTarget(session, session.codegen);
      for (const r of active) r.onStart?.({ runner: session.runner.name, kernel: session.kernel, seed: cfg.seed, total, replay });
    },
    onCase(c) {
      seg!.results.push(c.result);
      for (const r of active) {
        const p = r.onCase(c.result, c.expected, c.observation);
        if (p) pending.push(p);
      }
    },
    async onFinding(f) {
      const s = seg!;
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
      });
      s.findings.push(ref);
    },
    endSegment: close,
    async finish() {
      if (seg) close();
      await Promise.all(pending);
      for (const r of active) await r.onEnd(summaries);
      const body = summaries.length === 1 ? summaries[0] : { kernels: summaries };
      writeFileSync(join(cfg.outDir, 'summary.json'), `${JSON.stringify(body, null, 2)}\n`);
      return summaries;
    },
  };
}
