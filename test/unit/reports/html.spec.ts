import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { emulatorTally, type EmulatorComparison } from '../../../judge/emulatorComparison.ts';
import { htmlReporter, readChartLibrary } from '../../../reports/html.ts';
import { writeFinding } from '../../../reports/reproducer.ts';
import { summarize, type Summary } from '../../../reports/summary.ts';
import { KERNEL, PROBED_KERNEL } from './fixtures/cases.ts';
import { reporterOptions, sampleCases, sampleFinding } from './fixtures/sample.ts';

/** The page with the inlined Chart.js taken out (the library's own text has its licence's URLs). */
async function withoutLibrary(html: string): Promise<string> {
  const library = await readChartLibrary();
  expect(html.split(library)).toHaveLength(2);
  return html.replace(library, '');
}

/** The plots' configurations as the page's script reads them. */
function chartData(html: string): { id: string; config: { data: { labels?: string[]; datasets: { label: string }[] } } }[] {
  const json = /<script type="application\/json" id="kptr-charts">([^<]*)<\/script>/.exec(html);
  expect(json).not.toBeNull();
  return JSON.parse(json![1]!) as ReturnType<typeof chartData>;
}

describe('htmlReporter', () => {
  it('should write one self-contained, escaped page with the finding, coverage and a kernel × rule matrix', async () => {
    const options = await reporterOptions({ kernels: 2 });
    const k73 = { ...PROBED_KERNEL, release: '7.3.4+deb13-cloud-amd64', version: '7.3.4' };
    const a = sampleCases();
    const b = sampleCases(k73);
    const ref = await writeFinding(options.outDir, sampleFinding());
    const meta = { runner: 'host' as const, seed: 42, durationMs: 1000, ruleIds: ['refs.unreleased', 'per_cpu_ptr.arg_type'] };
    const summaries = [
      { ...summarize(a.map((c) => c.result), { ...meta, kernel: PROBED_KERNEL }), findings: [ref] },
      summarize(b.map((c) => c.result), { ...meta, kernel: k73 }),
    ];
    const reporter = htmlReporter(options);
    for (const c of [...a, ...b]) await reporter.onCase(c.result, c.prediction, c.observation, null);
    await reporter.onEnd(summaries);
    const html = await readFile(join(options.outDir, 'report.html'), 'utf8');

    // self-contained: Chart.js inlined, then the plots' data and the line that draws them; nothing fetched
    const page = await withoutLibrary(html);
    expect(page).not.toMatch(/https?:/);
    expect(page).not.toMatch(/\bsrc=/);
    expect(page).not.toMatch(/<link/i);
    expect(page.match(/<script[^>]*>/g)).toEqual(['<script type="application/json" id="kptr-charts">', '<script>', '<script>']);
    // kernels × rules: one dataset per kernel over every rule
    const rules = chartData(html).find((c) => c.id === 'chart-rules')!.config.data;
    expect(rules.labels).toEqual(['per_cpu_ptr.arg_type', 'refs.unreleased']);
    expect(rules.datasets.map((d) => d.label)).toEqual(['host 6.18.44-fc-v669', 'host 7.3.4+deb13-cloud-amd64']);
    // the finding: its reproducer and log one click away (relative links into its directory)
    expect(html).toContain(`<a href="${ref.dir}/repro.bpf.c">repro.bpf.c</a><a href="${ref.dir}/verifier.log">verifier.log</a>`);
    // the kernel's hostile splat text is shown escaped
    expect(html).toContain('WARNING: &lt;script&gt;alert(1)&lt;/script&gt; at kernel/bpf/memalloc.c');
    // the finding: minimal program, replay command, expected vs observed
    expect(html).toContain(`<section id="${ref.id}">`);
    expect(html).toContain('__description(&quot;refs.unreleased&quot;)');
    expect(html).toContain(ref.replay);
    expect(html).toContain('<td>rp1_sum=10</td><td>rp1_sum=&lt;b&gt;&amp;&quot;&#39;\uFFFD</td>');
    expect(html).toContain('every program was accepted by 6.18.44-fc-v669');
    // which known divergences each kernel's probes showed, and the one its range claims but this build fixed
    expect(html).toContain('<h2>Known divergences</h2>');
    expect(html).toContain('<td>host 6.18.44-fc-v669</td><td>nested_special_field_accepted</td><td></td><td>plain_obj_into_percpu</td><td>percpu_obj_new_uncleared</td>');
    // coverage per rule, zero shown, and the matrix across both kernels
    expect(html).toContain('<td>per_cpu_ptr.arg_type</td><td><span class="zero">0</span></td>');
    expect(html).toContain('<h2>Verdicts per kernel and rule</h2>');
    expect(html).toContain('<th>host 7.3.4+deb13-cloud-amd64</th>');
    expect(html).toContain('<td>refs.unreleased</td><td><span class="fail">fail (5)</span></td><td><span class="fail">fail (5)</span></td>');
    // both kernels fail the same cases the same way: listed as disagreeing with the oracle, not with each other
    expect(html).toContain('<h2>Where kernels disagree</h2>');
    expect(html).toMatch(/<td><span class="fail">oracle<\/span><\/td>/);
  });

  it('should leave the matrix out for a single kernel and say when there are no findings', async () => {
    const options = await reporterOptions();
    const reporter = htmlReporter(options);
    const cases = sampleCases();
    for (const c of cases) await reporter.onCase(c.result, c.prediction, c.observation, null);
    await reporter.onEnd([summarize(cases.map((c) => c.result), { runner: 'host', kernel: PROBED_KERNEL, seed: null, durationMs: 1, ruleIds: [] })]);
    const html = await readFile(join(options.outDir, 'report.html'), 'utf8');
    expect(html).not.toContain('Verdicts per kernel and rule');
    expect(html).not.toContain('Where kernels disagree');
    expect(html).toContain('<p>No findings.</p>');
    expect(html).not.toContain('Emulator vs kernel');
  });

  it('should show --with-emulator\'s counts and each differing case, escaped', async () => {
    const options = await reporterOptions();
    const reporter = htmlReporter(options);
    const cases = sampleCases();
    const tally = emulatorTally('6.12');
    const gap: EmulatorComparison = {
      profile: '6.12', class: 'emulator_gap', programs: 1, programsAgreeing: 0, runs: 0, runsAgreeing: 0, knownDivergences: [],
      differences: [{ what: 'error_line', program: 'p<0>', step: null, kernel: 'R1 type=<scalar>', emulator: 'R2 type=scalar' }],
    };
    for (const [i, c] of cases.entries()) {
      const e: EmulatorComparison = i === 0 ? gap : { ...gap, class: 'agree', programsAgreeing: 1, differences: [] };
      tally.add(e);
      await reporter.onCase(c.result, c.prediction, c.observation, e);
    }
    const summary = summarize(cases.map((c) => c.result), { runner: 'vm', kernel: PROBED_KERNEL, seed: 1, durationMs: 1, ruleIds: [] });
    await reporter.onEnd([{ ...summary, emulator: tally.summary() }]);
    const html = await readFile(join(options.outDir, 'report.html'), 'utf8');
    expect(html).toContain('<h2>Emulator vs kernel</h2>');
    expect(html).toContain(`<td>${cases.length - 1}/${cases.length} (`);
    expect(html).toContain('<td>emulator_gap</td><td>error_line</td><td>p&lt;0&gt;</td><td></td><td>R1 type=&lt;scalar&gt;</td><td>R2 type=scalar</td>');
  });

  it('should carry the plots\' data as JSON that no string from a scenario or kernel can break out of', async () => {
    const options = await reporterOptions();
    const cases = sampleCases();
    const hostile = '</script><script>alert(1)</script><!--\u2028&';
    const base = summarize(cases.map((c) => c.result), { runner: 'host', kernel: PROBED_KERNEL, seed: 1, durationMs: 1, ruleIds: [hostile] });
    const summary: Summary = { ...base, divergenceCases: { [hostile]: 2 }, ruleCoverage: { ...base.ruleCoverage, byRule: { [hostile]: 3 } } };
    const reporter = htmlReporter(options);
    await reporter.onEnd([summary]);
    const html = await readFile(join(options.outDir, 'report.html'), 'utf8');
    const page = await withoutLibrary(html);
    // the three script elements end where they should, and nothing else opens one
    expect(page.match(/<\/script/gi)).toHaveLength(3);
    expect(page.match(/<script/gi)).toHaveLength(3);
    expect(page).not.toContain('<!--');
    const charts = chartData(html);
    expect(charts.find((c) => c.id === 'chart-rules')!.config.data.labels).toEqual([hostile]);
    expect(charts.find((c) => c.id === 'chart-divergences')!.config.data.labels).toEqual([hostile]);
  });
});
