import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { campaign } from '../cli/commands/campaign.ts';

export interface CampaignFigure {
  readonly cases: number;
  /** the campaign's own figure (summary.json casesPerSecond: its clock starts before generation) */
  readonly casesPerSecond: number;
  /** wall time of the whole command, session opening (probes) and reports included, ms */
  readonly wallMs: number;
  /** CPU time of this process, every thread (not the harness's, nor the guests'), ms */
  readonly cpuMs: number;
}

/**
 * `kptr-conform run` itself, in this process: `runs` generated cases (no corpus, no shrinking) on one runner and
 * kernel, every report written. Unlike the bench's split, which runs one stage after the other, a campaign prepares
 * its next cases while the runner works (cli/commands/campaign.ts): this is the figure a user sees.
 */
export async function campaignFigure(runner: string, kernel: string | null, runs: number, seed: number, workDir: string): Promise<CampaignFigure> {
  const out = join(workDir, 'campaign');
  const corpus = join(workDir, 'no-corpus');
  mkdirSync(corpus, { recursive: true });
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  await campaign({
    runner, ...(kernel === null ? {} : { kernel }), runs: String(runs), seed: String(seed), out, corpus, shrink: false,
    format: 'jsonl,junit,test-progs-json,html',
  });
  const wallMs = performance.now() - t0;
  const c = process.cpuUsage(c0);
  const summary = JSON.parse(readFileSync(join(out, 'summary.json'), 'utf8')) as { cases: number; casesPerSecond: number };
  return { cases: summary.cases, casesPerSecond: summary.casesPerSecond, wallMs, cpuMs: (c.user + c.system) / 1000 };
}
