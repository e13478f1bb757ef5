import { cp, readFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { EXIT } from '../../errors/exitCodes.ts';
import { KptrError } from '../../errors/KptrError.ts';
import { mergeSummaries } from '../../reports/mergeSummaries.ts';
import { readResultLines } from '../../reports/readResults.ts';
import { reporters, type ReporterName } from '../../reports/reporter.ts';
import { replaceFile } from '../../reports/replaceFile.ts';
import type { Summary } from '../../reports/summary.ts';
import { prepareOutDir } from '../preflight.ts';

export interface MergeCliOptions {
  readonly out: string;
  readonly force?: boolean;
}

/** The reports merge writes again from the runs' results.jsonl (the console has nothing to say about them). */
const MERGED_FORMATS: readonly ReporterName[] = ['jsonl', 'junit', 'test-progs-json', 'html', 'kernels-json'];

function usage(message: string, hint: string): KptrError {
  return new KptrError('KPTR_USAGE', message, hint);
}

/** summary.json of a run: one runner × kernel, or `{ kernels: [...] }`. */
async function readSummaries(dir: string): Promise<Summary[]> {
  let text: string;
  try {
    text = await readFile(join(dir, 'summary.json'), 'utf8');
  } catch {
    throw usage(`merge: ${dir} has no summary.json (not the --out of a run, or one that has not finished)`, 'pass the --out directories of finished runs (or of runs stopped by a signal)');
  }
  const body = JSON.parse(text) as Summary | { kernels: Summary[] };
  return 'kernels' in body ? body.kernels : [body];
}

/**
 * `kptr-conform merge DIR... --out OUT`: the output directories of a campaign's shards (`run --shard k/n`, same seed
 * and --runs) as one run's: results.jsonl, junit.xml, test_progs.json, report.html (and kernels.json for several
 * kernels) written again from the runs' results, summary.json merged per runner × kernel (counts and rule coverage
 * add up), findings copied. A case two runs both ran is refused: those runs overlap, and their sums would count it twice.
 */
export async function merge(dirs: readonly string[], opts: MergeCliOptions): Promise<number> {
  const inputs = dirs.map((d) => resolve(d));
  const outDir = resolve(opts.out);
  if (inputs.includes(outDir)) throw usage(`merge: --out ${outDir} is one of the directories merged`, 'pass --out a new directory');
  const runs = await Promise.all(inputs.map(readSummaries));
  for (const d of inputs) {
    if (!existsSync(join(d, 'results.jsonl'))) throw usage(`merge: ${d} has no results.jsonl`, 'merge runs written with the jsonl format (the default)');
  }
  prepareOutDir(outDir, opts.force ?? false);
  const merged = mergeSummaries(runs);
  const kernels = merged.length;
  const files = MERGED_FORMATS.filter((f) => f !== 'kernels-json' || kernels > 1).map((name) => reporters[name]({
    outDir, stdout: process.stdout, isTTY: false, quiet: true, rerun: { kind: 'finding' }, json: false, kernels, clock: () => performance.now(),
  }));
  const seen = new Set<string>();
  for (const d of inputs) {
    for await (const line of readResultLines(join(d, 'results.jsonl'))) {
      const key = `${line.runner} ${line.kernel.release} ${line.scenarioId}`;
      if (seen.has(key)) throw usage(`merge: case ${line.scenarioId} (${line.runner}, ${line.kernel.release}) is in two of the runs`, 'merge the shards of one campaign (run --shard k/n), each once');
      seen.add(key);
      for (const r of files) await r.onCase(line.result, line.prediction, line.observation, line.emulator ?? null);
    }
  }
  // findings before the reports: report.html reads them back
  // only those the merged summary keeps: one run would have written findings for a bug's first cases only
  const kept = new Set(merged.flatMap((s) => s.findings.map((f) => f.id)));
  for (const [i, d] of inputs.entries()) {
    for (const ref of runs[i]!.flatMap((s) => s.findings)) if (kept.has(ref.id)) await cp(join(d, ref.dir), join(outDir, ref.dir), { recursive: true });
  }
  for (const r of files) await r.onEnd(merged);
  await replaceFile(join(outDir, 'summary.json'), `${JSON.stringify(merged.length === 1 ? merged[0] : { kernels: merged }, null, 2)}\n`);
  const s = merged.reduce((n, x) => ({ cases: n.cases + x.cases, failing: n.failing + x.failed + x.errors }), { cases: 0, failing: 0 });
  process.stderr.write(`kptr-conform: merged ${inputs.length} runs into ${outDir}: ${s.cases} cases, ${s.failing} failing, ${merged.flatMap((x) => x.findings).length} findings\n`);
  return s.failing > 0 ? EXIT.mismatch : EXIT.ok;
}
