import { KptrError } from '../../errors/KptrError.ts';
import { loadSelftests, loadSpec } from '../../specs/load.ts';
import { checkScenarios, type CheckedCase } from '../pipeline.ts';
import { printable } from '../../reports/printable.ts';
import { retargetProgTypes } from '../retarget.ts';
import { expectationFromCase } from '../selftestExpectation.ts';
import { openSession } from '../session.ts';
import { openOutputs } from '../outputs.ts';
import { runStoppable, stoppedBy } from '../stoppable.ts';
import { EXIT } from '../../errors/exitCodes.ts';
import { preflight } from '../preflight.ts';
import { announceRunner, resolveFromArgv, type CliOptions } from '../config.ts';
import type { SelftestCase } from '../../types/index.ts';

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
  for (const r of table) out.write(printable(`${r.map((x, i) => cut(x, widths[i]!)).join(' ')}\n`));
}

/** The built-in cases whose id contains `filter`; a filter that matches none is a usage error, not an empty pass. */
function selftestCases(filter: string | null): SelftestCase[] {
  const all = loadSelftests();
  const cases = all.filter((c) => filter === null || c.scenario.id.includes(filter));
  if (cases.length === 0) {
    throw new KptrError('KPTR_USAGE', `--filter '${filter}' matches none of the ${all.length} built-in cases`, `pass part of a case id, e.g. --filter ${all[0]?.scenario.id ?? 'percpu'}`);
  }
  return cases;
}

/** `kptr-conform selftests`: the built-in cases on one runner/kernel; exit 1 on any unexplained mismatch. */
export async function selftests(opts: CliOptions): Promise<number> {
  const resolved = await resolveFromArgv('selftests', opts);
  const cases = selftestCases(resolved.filter);
  const cfg = await preflight(resolved);
  announceRunner(cfg);
  const spec = loadSpec();
  const checkedAll: { release: string; cases: CheckedCase[] }[] = [];
  const { done, received } = await runStoppable(
    `the summary and reports so far to ${cfg.outDir}`,
    (onFailure) => openOutputs(cfg, spec, { rerun: { kind: 'selftest' }, onFailure }),
    async (outputs, { signal }) => {
      for (const kernelName of cfg.kernels) {
        signal.throwIfAborted();
        const session = await openSession(cfg, kernelName, spec, signal);
        const byId = new Map<string, SelftestCase>();
        const scenarios = cases.map((c) => {
          const s = cfg.runner === 'host' ? retargetProgTypes(c.scenario, session.available) : c.scenario;
          byId.set(s.id, { ...c, scenario: s });
          return s;
        });
        outputs.startSegment(session, scenarios.length);
        const checked = await checkScenarios({
          runner: session.runner, kernel: session.kernel, spec, scenarios, signal,
          expectationFor: (s, oracle) => expectationFromCase(byId.get(s.id)!, oracle, spec, session.kernel.divergences),
          onCase: (c) => outputs.onCase(c),
        });
        checkedAll.push({ release: session.kernel.release, cases: checked });
      }
    },
  );
  if (received !== null) return stoppedBy(received, done, cfg.outDir);
  if (!cfg.quiet && !cfg.json) {
    for (const { release, cases: checked } of checkedAll) {
      process.stdout.write(`\nselftests on ${release} (${cfg.runner}):\n`);
      printTable(checked.flatMap(rows), process.stdout);
      for (const c of checked) {
        for (const m of c.result.mismatches) {
          process.stdout.write(printable(`\n--- ${c.scenario.id} ${m.program ?? ''} [${m.kind}] on ${release} (${cfg.runner})\n${m.detail}\n`));
        }
      }
    }
  }
  return done.summaries.some((s) => s.failed + s.errors > 0) ? EXIT.mismatch : EXIT.ok;
}
