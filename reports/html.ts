import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import type { CaseResult, CaseStatus, Splat } from '../types/index.ts';
import { bugCountsLine } from './bugBuckets.ts';
import { EMULATOR_CLASSES, type EmulatorComparison } from '../judge/emulatorComparison.ts';
import { escapeMarkup as esc, jsonInScript } from './escapeMarkup.ts';
import { kernelCaseCollector, kernelDisagreements, type KernelCase } from './kernelDisagreements.ts';
import { replaceFile } from './replaceFile.ts';
import { reportCharts } from './reportCharts.ts';
import type { Reporter, ReporterOptions } from './reporter.ts';
import { statePairText, type FindingRef, type Summary } from './summary.ts';

/** A finding as the page shows it: read back from findings/<id>/ (null where a file is missing). */
export interface FindingView {
  readonly ref: FindingRef;
  /** repro.bpf.c: the minimal program */
  readonly source: string | null;
  readonly verifierLog: string | null;
  readonly result: CaseResult | null;
  readonly splats: readonly Splat[];
}

export interface HtmlInput {
  readonly summaries: readonly Summary[];
  /** per runner × kernel (`<runner> <release>`) */
  readonly runs: ReadonlyMap<string, readonly KernelCase[]>;
  readonly findings: readonly FindingView[];
  /** --with-emulator: the cases where the emulator and the kernel differ, or both differ from the oracle (the first MAX_EMULATOR_ROWS) */
  readonly emulatorCases: readonly { readonly scenarioId: string; readonly kernelRelease: string; readonly comparison: EmulatorComparison }[];
  /** Chart.js's browser build (readChartLibrary), inlined to draw the plots */
  readonly chartLibrary: string;
}

/** Differing cases report.html lists (results.jsonl holds every comparison), so memory stays flat in the cases. */
const MAX_EMULATOR_ROWS = 500;

const STYLE = `body{font:14px/1.4 system-ui,sans-serif;margin:2em;color:#222}
table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #ccc;padding:.2em .6em;text-align:left}
pre{background:#f6f6f6;padding:.6em;overflow-x:auto;white-space:pre-wrap}
.pass{background:#dfd}.fail{background:#fdd}.error{background:#fec}.skip{background:#eee}.divergence{background:#ffd}
.zero{color:#b00}
.plots{display:grid;grid-template-columns:repeat(auto-fit,minmax(460px,1fr));gap:1em 2em}figure{margin:0}figcaption{font-weight:600}
.files a{margin-right:.8em}`;

function table(header: readonly string[], rows: readonly (readonly string[])[]): string {
  const tr = (cells: readonly string[], tag: string): string => `<tr>${cells.map((c) => `<${tag}>${c}</${tag}>`).join('')}</tr>`;
  return `<table>${tr(header.map((h) => esc(h)), 'th')}${rows.map((r) => tr(r, 'td')).join('')}</table>`;
}

/** One line per runner × kernel with what a maintainer looks for first. */
function headline(s: Summary): string {
  return `<p><strong>${esc(`${s.runner} ${s.kernel.release}`)}</strong>: ${esc(`${s.cases} cases (${s.casesPerSecond}/s), ${bugCountsLine(s.bugs)}, `
    + `${s.divergent} explained by known divergences, rules ${s.ruleCoverage.hit}/${s.ruleCoverage.total} hit`)}</p>`;
}

function summarySection(summaries: readonly Summary[]): string {
  const rows = summaries.map((s) => [
    s.runner, s.kernel.release, s.kernel.nrCpus, s.seed ?? 'none', s.cases, s.passed, s.failed, s.skipped, s.divergent, s.errors,
    s.mismatches.unexplained, s.mismatches.knownDivergences, `${s.ruleCoverage.hit}/${s.ruleCoverage.total}`, s.casesPerSecond,
  ].map((c) => esc(String(c))));
  const stopped = summaries.flatMap((s) => (s.stopped === null ? [] : [`<p class="error">Stopped early (${esc(s.stopped)}) on ${esc(s.runner)} ${esc(s.kernel.release)}: the counts are of the ${s.cases} cases that finished.</p>`]));
  const pairs = summaries.flatMap((s) => (s.statePairCoverage === undefined ? [] : [`<p class="state-pairs">State pairs (op × handle state × program type) on ${esc(s.runner)} ${esc(s.kernel.release)}: ${esc(statePairText(s.statePairCoverage))}</p>`]));
  return `${summaries.map(headline).join('')}<h2>Run summary</h2>${stopped.join('')}${table(['runner', 'kernel', 'CPUs', 'seed', 'cases', 'passed', 'failed', 'skipped', 'divergent', 'errors', 'unexplained mismatches', 'known divergences', 'rules hit', 'cases/s'], rows)}${pairs.join('')}`;
}

/**
 * Per runner × kernel, bugs and failing cases counted apart; each bug with its signature, whether it is new or seen
 * again, a link to its finding(s), and its other cases (id, seed and index, where the result is).
 */
function bugSection(summaries: readonly Summary[], views: readonly FindingView[]): string {
  const parts = summaries.filter((s) => Object.keys(s.bugs).length > 0).map((s) => {
    const rows = Object.entries(s.bugs).map(([signature, b]) => {
      const findings = b.cases.flatMap((c) => {
        if (c.finding === null) return [];
        const view = views.find((v) => v.ref.id === c.finding);
        return [`<a href="#${esc(c.finding, true)}">${esc(c.finding)}</a>${view === undefined ? '' : ` ${findingFiles(view)}`}`];
      });
      const others = b.cases.filter((c) => c.finding === null).map((c) => esc(
        `${c.scenarioId}${c.seed === null ? '' : ` (seed ${c.seed}, index ${c.index})`}${c.result === null ? '' : `: ${c.result}`}`,
      ));
      const listed = others.length === 0 ? '' : `<details><summary>${others.length} more</summary>${others.join('<br>')}</details>`;
      return [`<code>${esc(signature)}</code>`, b.seenBefore ? 'seen again' : '<strong>new</strong>', String(b.cases.length), findings.join('<br>'), listed];
    });
    return `<p>${esc(`${s.runner} ${s.kernel.release}: ${bugCountsLine(s.bugs)}`)}</p>${table(['signature', 'new?', 'cases', 'finding', 'other cases'], rows)}`;
  });
  return parts.length === 0 ? '' : `<h2>Bugs</h2>${parts.join('\n')}`;
}

/** Which known divergences each kernel showed by its load-only probes, and which its recorded range wrongly claims. */
function divergenceSection(summaries: readonly Summary[]): string {
  const rows = summaries.map((s) => {
    const k = s.knownDivergences;
    return [`${s.runner} ${s.kernel.release}`, k.shown.join(', ') || 'none', k.seenOutsideRange.join(', '), k.fixedInThisBuild.join(', '), k.assumedByRange.join(', ')].map((c) => esc(c));
  });
  return `<h2>Known divergences</h2>${table(['kernel', 'shows (probe)', 'seen outside its recorded range', 'fixed in this build', 'unprobed, assumed by range'], rows)}`;
}

function coverageSection(summaries: readonly Summary[]): string {
  const ids = [...new Set(summaries.flatMap((s) => Object.keys(s.ruleCoverage.byRule)))].sort();
  const rows = ids.map((id) => [esc(id), ...summaries.map((s) => {
    const n = s.ruleCoverage.byRule[id] ?? 0;
    return n === 0 ? '<span class="zero">0</span>' : String(n);
  })]);
  const ops = [...new Set(summaries.flatMap((s) => Object.keys(s.mapOpCoverage.byOp)))].sort();
  const opRows = ops.map((op) => [esc(op), ...summaries.map((s) => String(s.mapOpCoverage.byOp[op] ?? 0))]);
  const opTable = ops.length === 0 ? '' : `<h2>Userspace map operations</h2>${table(['operation, map type, result', ...summaries.map((s) => `${s.runner} ${s.kernel.release}`)], opRows)}`;
  const exercises = [...new Set(summaries.flatMap((s) => Object.keys(s.exerciseCoverage ?? {})))].sort();
  const exerciseRows = exercises.map((e) => [esc(e), ...summaries.map((s) => String(s.exerciseCoverage?.[e] ?? 0))]);
  const exerciseTable = exercises.length === 0 ? '' : `<h2>Schedule steps and kptr homes</h2>${table(['cases holding', ...summaries.map((s) => `${s.runner} ${s.kernel.release}`)], exerciseRows)}`;
  return `<h2>Rule coverage</h2>${table(['rule', ...summaries.map((s) => `${s.runner} ${s.kernel.release}`)], rows)}${exerciseTable}${opTable}`;
}

const WORST: readonly CaseStatus[] = ['fail', 'error', 'divergence', 'pass', 'skip'];

/** kernel × rule: the worst status among the cases exercising the rule on that kernel, with the case count. */
function matrixSection(runs: HtmlInput['runs']): string {
  if (runs.size < 2) return '';
  const kernels = [...runs.keys()];
  const rules = [...new Set([...runs.values()].flatMap((cases) => cases.flatMap((c) => c.result.rules)))].sort();
  const rows = rules.map((rule) => [esc(rule), ...kernels.map((k) => {
    const here = (runs.get(k) ?? []).filter((c) => c.result.rules.includes(rule));
    const worst = WORST.find((s) => here.some((c) => c.result.status === s));
    return worst === undefined ? '' : `<span class="${worst}">${worst} (${here.length})</span>`;
  })]);
  return `<h2>Verdicts per kernel and rule</h2>${table(['rule', ...kernels], rows)}`;
}

/** Programs the kernels treat differently, or that some kernel treats differently from the oracle. */
function disagreementSection(runs: HtmlInput['runs']): string {
  if (runs.size < 2) return '';
  const kernels = [...runs.keys()];
  const rows = kernelDisagreements(runs).map((r) => [
    esc(r.scenarioId), esc(r.program), r.oracleDisagrees ? '<span class="fail">oracle</span>' : 'kernels only',
    ...kernels.map((k) => {
      const on = r.byKernel.find((x) => x.kernel === k);
      if (!on) return '';
      const wrong = on.status === 'fail' || on.status === 'error';
      return `<span class="${on.status}">${esc(on.observed)}</span>${wrong ? `<br>predicted ${esc(on.predicted ?? '?')}` : ''}`;
    }),
  ]);
  const body = rows.length === 0 ? '<p>Every kernel gave every program the same verdict, as the oracle predicted.</p>' : table(['scenario', 'program', 'disagrees with', ...kernels], rows);
  return `<h2>Where kernels disagree</h2>${body}`;
}

/** --with-emulator: per kernel, how often the emulator agreed; then every case where it differs, classified. */
function emulatorSection(summaries: readonly Summary[], cases: HtmlInput['emulatorCases']): string {
  const compared = summaries.filter((s) => s.emulator !== null);
  if (compared.length === 0) return '';
  const pct = (a: number, b: number): string => (b === 0 ? '-' : `${((100 * a) / b).toFixed(2)} %`);
  const rows = compared.map((s) => {
    const e = s.emulator!;
    return [`${s.runner} ${s.kernel.release}`, e.profile, String(e.cases), `${e.programsAgreeing}/${e.programs} (${pct(e.programsAgreeing, e.programs)})`,
      `${e.runsAgreeing}/${e.runs} (${pct(e.runsAgreeing, e.runs)})`, ...EMULATOR_CLASSES.map((k) => String(e.byClass[k]))].map((c) => esc(c));
  });
  const diff = cases.flatMap((c) => c.comparison.differences.map((d) => [
    c.scenarioId, c.kernelRelease, c.comparison.class, d.what, d.program ?? '', d.step === null ? '' : String(d.step), d.kernel, d.emulator,
  ].map((x) => esc(x))));
  const more = cases.length >= MAX_EMULATOR_ROWS ? `<p>The first ${MAX_EMULATOR_ROWS} cases; results.jsonl has every comparison.</p>` : '';
  return `<h2>Emulator vs kernel</h2>${table(['kernel', 'profile', 'cases', 'programs agreeing', 'runs agreeing', ...EMULATOR_CLASSES], rows)}
${diff.length === 0 ? '<p>The emulator and the kernel agree on every case.</p>' : table(['scenario', 'kernel', 'class', 'differs in', 'program', 'step', 'kernel', 'emulator'], diff)}${more}`;
}

/** Links to a finding's reproducer and log in its directory (relative: they open where report.html was written). */
function findingFiles(f: FindingView): string {
  const files = [...(f.source === null ? [] : ['repro.bpf.c']), ...(f.verifierLog === null ? [] : ['verifier.log']), 'finding.json'];
  return `<span class="files">${files.map((name) => `<a href="${esc(encodeURI(`${f.ref.dir}/${name}`), true)}">${name}</a>`).join('')}</span>`;
}

/**
 * The plots (reports/reportCharts.ts): a canvas each, drawn by the inlined Chart.js from their configurations, which
 * travel as JSON in a data element (jsonInScript: no string in them can end the element).
 */
function plotSection(summaries: readonly Summary[], library: string): string {
  const charts = reportCharts(summaries);
  if (charts.length === 0) return '';
  const figures = charts.map((c) => `<figure><figcaption>${esc(c.title)}</figcaption><div style="position:relative;height:${c.height}px"><canvas id="${esc(c.id, true)}"></canvas></div></figure>`);
  const draw = `for (const c of JSON.parse(document.getElementById('kptr-charts').textContent)) new Chart(document.getElementById(c.id), c.config);`;
  return `<h2>Plots</h2><div class="plots">${figures.join('\n')}</div>
<script type="application/json" id="kptr-charts">${jsonInScript(charts.map((c) => ({ id: c.id, config: c.config })))}</script>
<script>${library}</script>
<script>${draw}</script>`;
}

function findingSection(f: FindingView): string {
  const pre = (title: string, text: string | null): string => `<h4>${esc(title)}</h4><pre>${text === null ? '(not written)' : esc(text)}</pre>`;
  const mismatches = f.result === null ? [] : f.result.mismatches.map((m) => [
    esc(m.kind), esc(m.program ?? ''), esc(m.step === null ? '' : String(m.step)), esc(m.expected), esc(m.observed),
  ]);
  return `<section id="${esc(f.ref.id, true)}"><h3>${esc(f.ref.id)}</h3>
<p>scenario <code>${esc(f.ref.scenarioId)}</code>, runner ${esc(f.ref.runner)}, kernel ${esc(f.ref.kernelRelease)}: ${esc(f.ref.kinds.join(', '))}</p>
<p>replay: <code>${esc(f.ref.replay)}</code></p>
<p>files: ${findingFiles(f)}</p>${f.ref.unshrunkBecause === null ? '' : `\n<p>not fully shrunk: ${esc(f.ref.unshrunkBecause)}</p>`}
<h4>Expected vs observed</h4>${table(['kind', 'program', 'step', 'expected', 'observed'], mismatches)}
${pre('Minimal program (repro.bpf.c)', f.source)}${pre('Verifier log', f.verifierLog)}
${f.splats.map((s) => pre(`Splat (${s.kind}${s.during === null ? '' : `, during ${s.during}`})`, s.text)).join('')}
</section>`;
}

/** report.html: one self-contained page (inline CSS, the plots' library inlined, nothing fetched); every piece of data escaped. */
export function renderHtml(input: HtmlInput): string {
  const findings = input.findings.length === 0 ? '<p>No findings.</p>' : input.findings.map(findingSection).join('\n');
  return `<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>kptr-conform report</title><style>${STYLE}</style></head>
<body><h1>kptr-conform report</h1>
${summarySection(input.summaries)}
${bugSection(input.summaries, input.findings)}
${plotSection(input.summaries, input.chartLibrary)}
${divergenceSection(input.summaries)}
${coverageSection(input.summaries)}
${matrixSection(input.runs)}
${disagreementSection(input.runs)}
${emulatorSection(input.summaries, input.emulatorCases)}
<h2>Findings</h2>
${findings}
</body></html>
`;
}

async function readOrNull(path: string): Promise<string | null> {
  try {
    return await readFile(path, 'utf8');
  } catch {
    return null;
  }
}

/**
 * Chart.js's UMD build as a classic script's text: its source-map comment dropped (the page is read offline, with no
 * map beside it), and a `</script` spelt `<\/script`, which means the same in a JavaScript string or regular expression
 * and cannot end the element.
 */
export async function readChartLibrary(): Promise<string> {
  const main = createRequire(import.meta.url).resolve('chart.js');
  const text = await readFile(join(dirname(main), 'chart.umd.min.js'), 'utf8');
  return text.replace(/^\/\/# sourceMappingURL=.*$/m, '').replace(/<\/(script)/gi, '<\\/$1');
}

/** Read a finding's files back (the pipeline wrote them with writeFinding before onEnd). */
export async function loadFindingView(outDir: string, ref: FindingRef): Promise<FindingView> {
  const dir = join(outDir, ref.dir);
  const json = await readOrNull(join(dir, 'finding.json'));
  const record = json === null ? null : (JSON.parse(json) as { result: CaseResult; observation: { splats: readonly Splat[] } });
  return {
    ref,
    source: await readOrNull(join(dir, 'repro.bpf.c')),
    verifierLog: await readOrNull(join(dir, 'verifier.log')),
    result: record?.result ?? null,
    splats: record?.observation.splats ?? [],
  };
}

/** report.html across every runner × kernel of the run. */
export function htmlReporter(options: ReporterOptions): Reporter {
  const cases = kernelCaseCollector(options.kernels);
  const emulatorCases: HtmlInput['emulatorCases'][number][] = [];
  return {
    onCase(r, p, o, emulator) {
      cases.add(r, p, o);
      if (emulator !== null && emulator.class !== 'agree' && emulatorCases.length < MAX_EMULATOR_ROWS) {
        emulatorCases.push({ scenarioId: r.scenarioId, kernelRelease: r.kernelRelease, comparison: emulator });
      }
    },
    async onEnd(summaries) {
      const findings = await Promise.all(summaries.flatMap((s) => s.findings).map((f) => loadFindingView(options.outDir, f)));
      const chartLibrary = await readChartLibrary();
      await replaceFile(join(options.outDir, 'report.html'), renderHtml({ summaries, runs: cases.runs(), findings, emulatorCases, chartLibrary }));
    },
  };
}
