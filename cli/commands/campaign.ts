import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type fc from 'fast-check';
import { prefixScenario } from '../../generators/prefixScenario.ts';
import { scenario as scenarioArb } from '../../generators/scenario.ts';
import { findingId } from '../../reports/findingId.ts';
import { generateValues, shrinkBatched } from '../../reports/shrink.ts';
import { loadCorpusDir, loadSpec, scenarioToYaml } from '../../specs/load.ts';
import type { CaseResult, ProgType, Scenario, Spec } from '../../types/index.ts';
import { KptrError } from '../../errors/KptrError.ts';
import { resolveFromArgv, type CliOptions, type RunConfig } from '../config.ts';
import { openOutputs, type CampaignFinding } from '../outputs.ts';
import { preflight } from '../preflight.ts';
import type { Summary } from '../../reports/summary.ts';
import { checkScenarios, type CheckedCase } from '../pipeline.ts';
import { openSession, type Session } from '../session.ts';

/**
 * Scenarios checked per runner call. Results stream out per object (host) or per boot (vm) whatever the chunk, so a
 * chunk only bounds memory and what a crash of the tool loses; each chunk boundary drains the runner's pipeline (the
 * host compiles ahead, the vm boots once per chunk), so chunks are large.
 */
const CHUNK = 2000;

/** What must stay the same while shrinking: the mismatch kinds and the rules the expectation names. */
export function mismatchSignature(r: CaseResult, c: CheckedCase): string {
  const kinds = [...new Set(r.mismatches.map((m) => m.kind))].sort();
  const rules = r.mismatches.map((m) => {
    const p = m.program ? c.expected.programs.find((x) => x.program === m.program) : undefined;
    return p?.verdict === 'rejected' ? p.expected.ruleId : 'accepted';
  });
  return `${kinds.join(',')}|${[...new Set(rules)].sort().join(',')}`;
}

/** Saved scenarios replayed before any new case: the regression corpus (like a property-testing example database). */
function loadCorpus(dir: string | null): Scenario[] {
  return dir === null ? [] : loadCorpusDir(dir);
}

async function checkChunked(session: Session, spec: Spec, scenarios: readonly Scenario[], onCase: (c: CheckedCase) => void): Promise<CheckedCase[]> {
  const all: CheckedCase[] = [];
  for (let i = 0; i < scenarios.length; i += CHUNK) {
    all.push(...await checkScenarios({ runner: session.runner, kernel: session.kernel, spec, scenarios: scenarios.slice(i, i + CHUNK), onCase }));
  }
  return all;
}

/**
 * A splat or a runner failure may depend on timing, on what ran before, or on the emulator, and any mismatch seen on a
 * directly written object may come from that object rather than the kernel: run the scenario again, alone, compiled
 * from C by clang, and say whether the mismatch came back (null: a verdict, message or value mismatch seen on
 * clang's object already, which needs no check).
 */
async function reproduces(session: Session, spec: Spec, failing: CheckedCase): Promise<boolean | null> {
  if (session.codegen === 'clang' && !failing.result.mismatches.some((m) => m.kind === 'splat' || m.kind === 'runner_error')) return null;
  const [again] = await checkScenarios({ runner: session.clangRunner(), kernel: session.kernel, spec, scenarios: [failing.scenario] });
  return again !== undefined && again.result.status === 'fail';
}

/** Shrinks one failing generated case on the same runner with clang's objects, keeping its mismatch signature. */
async function shrinkCase(
  session: Session, spec: Spec, cfg: RunConfig, arb: fc.Arbitrary<Scenario>, start: fc.Value<Scenario>, failing: CheckedCase,
): Promise<{ checked: CheckedCase; path: string; steps: number }> {
  const want = mismatchSignature(failing.result, failing);
  let round = 0;
  let best = failing;
  const res = await shrinkBatched(arb, start, async (candidates) => {
    round++;
    const named = candidates.map((s, j) => prefixScenario(s, `${failing.scenario.id}_k${round}_${j}`));
    const checked = await checkScenarios({ runner: session.clangRunner(), kernel: session.kernel, spec, scenarios: named });
    const byId = new Map(checked.map((c) => [c.scenario.id, c]));
    const hits = named.map((s) => byId.get(s.id) ?? null)
      .map((c) => (c && c.result.status === 'fail' && mismatchSignature(c.result, c) === want ? c : null));
    // shrinkBatched takes the first hit of a batch; keep that one's observation for the report
    const first = hits.find((c) => c !== null);
    if (first) best = first;
    return hits.map((c) => c !== null);
  }, { batchSize: session.shrinkBatch, maxSteps: cfg.maxShrinks, maxChecks: cfg.maxShrinks * session.shrinkBatch, maxRounds: session.shrinkRounds });
  return { checked: best, path: res.path, steps: res.steps };
}

/** `kptr-conform run`: a property-based campaign on one runner and one or more kernels. */
export async function campaign(opts: CliOptions): Promise<number> {
  const resolved = resolveFromArgv('run', opts);
  const spec = loadSpec();
  // every corpus entry is checked before any work (the output directory included): a bad one is one line and exit 2,
  // never a finding
  const corpus = loadCorpus(resolved.corpusDir);
  const cfg = await preflight(resolved);
  const outputs = openOutputs(cfg, spec);
  let summaries: readonly Summary[] = [];
  try {
    for (const kernelName of cfg.kernels) {
      const session = await openSession(cfg, kernelName);
      const progTypes = cfg.progTypes.filter((t: ProgType) => session.available[t]);
      if (progTypes.length === 0) {
        throw new KptrError('KPTR_RUNNER_UNAVAILABLE', `none of --prog-types ${cfg.progTypes.join(',')} can run on ${session.kernel.release}`,
          'pick program types the runner supports (see `npx kptr-conform doctor`)');
      }
      const arb = scenarioArb({ mode: cfg.mode, progTypes, nrCpus: session.kernel.nrCpus });
      // the segment's clock (cases/s) starts before generation: generating is part of a campaign's cost
      outputs.startSegment(session, corpus.length + cfg.runs);
      const values = [...generateValues(arb, cfg.seed, cfg.runs)];
      const generated = values.map((v, i) => prefixScenario(v.value_, `s${cfg.seed}_${i}`));
      const cases = await checkChunked(session, spec, [...corpus, ...generated], (c) => outputs.onCase(c));
      // a runner failure nothing explains (a guest that stopped answering) is a finding too, kept as it came: the
      // shrinker keeps a candidate only if it fails the same way, and a runner error is not a verdict or a value
      for (const f of cases.filter((c) => c.result.status === 'fail' || c.result.status === 'error')) {
        const index = generated.findIndex((s) => s.id === f.scenario.id);
        const reproduced = await reproduces(session, spec, f);
        const shrinkable = cfg.shrink && index >= 0 && reproduced !== false && f.result.status === 'fail';
        const shrunk = shrinkable ? await shrinkCase(session, spec, cfg, arb, values[index]!, f) : null;
        const checked = shrunk?.checked ?? f;
        const finding: CampaignFinding = {
          id: findingId(checked.result),
          checked,
          seed: index >= 0 ? cfg.seed : null,
          index: index >= 0 ? index : null,
          path: shrunk?.path ?? '',
          reproduced,
        };
        await outputs.onFinding(finding);
        // the corpus replays findings before every campaign: one that did not come back alone would only be noise
        if (cfg.saveFindings && cfg.corpusDir && reproduced !== false) {
          mkdirSync(cfg.corpusDir, { recursive: true });
          writeFileSync(join(cfg.corpusDir, `${finding.id}.yaml`), scenarioToYaml(finding.checked.scenario));
        }
      }
      outputs.endSegment();
    }
  } finally {
    summaries = await outputs.finish();
  }
  return summaries.some((x) => x.failed + x.errors > 0) ? 1 : 0;
}
