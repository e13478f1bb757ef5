import { loadSelftests, loadSpec } from '../../specs/load.ts';
import { checkScenarios, type CheckedCase } from '../pipeline.ts';
import { retargetProgTypes } from '../retarget.ts';
import { expectationFromCase } from '../selftestExpectation.ts';
import { openSession } from '../session.ts';
import { openOutputs } from '../outputs.ts';
import { resolveFromArgv, type CliOptions } from '../config.ts';
import type { SelftestCase } from '../../types/index.ts';
import type { Summary } from '../../reports/summary.ts';

/** Table row: one program of one case, expected vs observed. */
function rows(c: CheckedCase): string[][] {
  return c.scenario.programs.map((p) => {
    const exp = c.expected.programs.find((x) => x.program === p.name)!;
    const obs = c.observation.programs.find((x) => x.program === p.name);
    const expText = exp.verdict === 'accepted' ? 'accept' : `reject: ${exp.expected.lines.join(' / ')}`;
    const obsText = c.observation.skipped ? `skipped: ${c.observation.skipped}`
      : !obs ? 'not observed'
      : obs.verdict === 'accepted' ? 'accept' : `reject: ${obs.summary}`;
    const mism = c.result.mismatches.filter((m) => m.program === p.name || m.program === null);
    const status = c.result.status === 'pass' || c.result.status === 'skip' || c.result.status === 'divergence'
      ? c.result.status
      : mism.length > 0 ? c.result.status : 'pass';
    const oracle = c.oracleResult ? (c.oracleResult.status === 'fail' ? 'oracle differs' : 'oracle agrees') : '';
    return [c.scenario.id, `${p.name} (${p.progType})`, expText, obsText, status, oracle];
  });
}

function printTable(table: string[][], out: NodeJS.WriteStream): void {
  const widths = [28, 34, 60, 60, 10, 14];
  const cut = (s: string, w: number): string => (s.length > w ? `${s.slice(0, w - 1)}…` : s.padEnd(w));
  out.write(`${['case', 'program', 'expected', 'observed', 'result', ''].map((h, i) => cut(h, widths[i]!)).join(' ')}\n`);
  for (const r of table) out.write(`${r.map((x, i) => cut(x, widths[i]!)).join(' ')}\n`);
}

/** `kptr-conform selftests`: the built-in cases on one runner/kernel; exit 1 on any unexplained mismatch. */
export async function selftests(opts: CliOptions): Promise<number> {
  const cfg = resolveFromArgv('selftests', opts);
  const spec = loadSpec();
  const cases = loadSelftests().filter((c) => !cfg.filter || c.scenario.id.includes(cfg.filter));
  const outputs = openOutputs(cfg, spec);
  const checkedAll: { release: string; cases: CheckedCase[] }[] = [];
  let summaries: readonly Summary[] = [];
  try {
    for (const kernelName of cfg.kernels) {
    const session = await openSession(cfg, kernelName, spec);
    const byId = new Map<string, SelftestCase>();
    const scenarios = cases.map((c) => {
      const s = cfg.runner === 'host' ? retargetProgTypes(c.scenario, session.available) : c.scenario;
      byId.set(s.id, { ...c, scenario: s });
      return s;
    });
      outputs.startSegment(session, scenarios.length);
      const checked = await checkScenarios({
        runner: session.runner, kernel: session.kernel, spec, scenarios,
        expectationFor: (s, oracle) => expectationFromCase(byId.get(s.id)!, oracle, spec, session.kernel.divergences),
        onCase: (c) => outputs.onCase(c),
      });
      checkedAll.push({ release: session.kernel.release, cases: checked });
    }
  } finally {
    // written even when a later kernel fails: nothing computed is lost
    summaries = await outputs.finish();
  }
  if (!cfg.quiet && !cfg.json) {
    for (const { release, cases: checked } of checkedAll) {
      process.stdout.write(`\nselftests on ${release} (${cfg.runner}):\n`);
      printTable(checked.flatMap(rows), process.stdout);
      for (const c of checked) {
        for (const m of c.result.mismatches) {
          process.stdout.write(`\n--- ${c.scenario.id} ${m.program ?? ''} [${m.kind}] on ${release} (${cfg.runner})\n${m.detail}\n`);
        }
      }
    }
  }
  return summaries.some((s) => s.failed + s.errors > 0) ? 1 : 0;
}
