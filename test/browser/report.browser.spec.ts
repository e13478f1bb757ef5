import { mkdirSync, mkdtempSync } from 'node:fs';
import { readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, describe, expect, it } from 'vitest';
import type { Summary } from '../../reports/summary.ts';
import { campaignWithFinding, once, readFindingRecord, readSummary, REPO_ROOT } from '../helpers/cli.ts';
import { needs } from '../helpers/needs.ts';

// report.html as a person sees it: Debian's chromium (installed by scripts/setup.sh) opens the page a real host
// campaign with a finding wrote, and the DOM must show what the run's own files say.

const CHROMIUM = '/usr/bin/chromium';
/** Where the screenshot stays after the run (out/ is ignored by git), for a human to look at. */
const SHOTS = join(REPO_ROOT, 'out', 'test-browser');

const base = mkdtempSync(join(tmpdir(), 'kptr-browser-'));
let browser: Browser | null = null;
afterAll(async () => {
  await browser?.close();
  await rm(base, { recursive: true, force: true });
});

/**
 * A page that can reach nothing but files: every other request is aborted (and listed in `blocked`), so the report
 * must work offline. Console errors and uncaught page errors are collected.
 */
async function offlinePage(b: Browser): Promise<{ page: Page; requests: string[]; blocked: string[]; errors: string[] }> {
  const page = await b.newPage();
  const requests: string[] = [];
  const blocked: string[] = [];
  const errors: string[] = [];
  await page.route('**/*', (route) => {
    const u = route.request().url();
    if (new URL(u).protocol === 'file:') return route.continue();
    blocked.push(u);
    return route.abort();
  });
  page.on('request', (r) => requests.push(r.url()));
  page.on('console', (m) => { if (m.type() === 'error') errors.push(m.text()); });
  page.on('pageerror', (e) => errors.push(e.message));
  return { page, requests, blocked, errors };
}

interface Opened {
  readonly out: string;
  readonly summary: Summary;
  readonly page: Page;
  readonly url: string;
  /** every request the page made while loading, as URLs */
  readonly requests: readonly string[];
  /** console errors and uncaught page errors while loading */
  readonly errors: readonly string[];
  /** requests for anything but a file, aborted */
  readonly blocked: readonly string[];
}

/** The campaign's report, opened in chromium. */
const openReport = once(async (): Promise<Opened> => {
  const run = await campaignWithFinding(base);
  const summary = await readSummary(run.out);
  expect(summary.findings.length, `the campaign should have produced a finding:\n${run.stdout}\n${run.stderr}`).toBeGreaterThan(0);
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-dev-shm-usage'],
  });
  const { page, requests, blocked, errors } = await offlinePage(browser);
  const url = pathToFileURL(join(run.out, 'report.html')).href;
  await page.goto(url, { waitUntil: 'load' });
  return { out: run.out, summary, page, url, requests, blocked, errors };
});

/** What Chart.js holds for each canvas of the page, and how many of the canvas's pixels it painted. */
interface DrawnChart {
  readonly id: string;
  /** null: no Chart instance on this canvas */
  readonly type: string | null;
  readonly labels: readonly unknown[] | null;
  readonly datasets: readonly { readonly label: string; readonly data: readonly unknown[] }[];
  readonly painted: number;
}

async function drawnCharts(page: Page): Promise<DrawnChart[]> {
  return page.evaluate(() => {
    interface ChartLike { config: { type: string }; data: { labels?: unknown[]; datasets: { label: string; data: unknown[] }[] } }
    const lib = (window as unknown as { Chart?: { getChart(c: HTMLCanvasElement): ChartLike | undefined } }).Chart;
    return [...document.querySelectorAll('canvas')].map((c) => {
      const chart = lib?.getChart(c);
      const pixels = c.getContext('2d')!.getImageData(0, 0, c.width, c.height).data;
      let painted = 0;
      for (let i = 3; i < pixels.length; i += 4) if (pixels[i] !== 0) painted += 1;
      return {
        id: c.id, type: chart?.config.type ?? null, labels: chart?.data.labels ?? null, painted,
        datasets: (chart?.data.datasets ?? []).map((d) => ({ label: d.label, data: d.data })),
      };
    });
  });
}

/** The cells of the table under the heading `title`, row by row (header row first). */
async function tableAfter(page: Page, title: string): Promise<string[][]> {
  const table = page.locator(`h2:text-is("${title}") + table`);
  return table.locator('tr').evaluateAll((rows) => rows.map((r) => [...r.querySelectorAll('th,td')].map((c) => c.textContent ?? '')));
}

describe('report.html in chromium', () => {
  it('should load from file:// alone: no other request, no console error', async (ctx) => {
    await needs(ctx, 'kernel');
    const { url, requests, blocked, errors } = await openReport();
    expect(requests).toEqual([url]);
    expect(blocked).toEqual([]);
    expect(errors).toEqual([]);
  });

  it('should draw each plot with the inlined Chart.js from the numbers of summary.json', async (ctx) => {
    await needs(ctx, 'kernel');
    const { page, summary: s } = await openReport();
    const charts = await drawnCharts(page);
    const chart = (id: string): DrawnChart => {
      const c = charts.find((x) => x.id === id);
      expect(c, `a canvas #${id}`).toBeDefined();
      return c!;
    };
    // every canvas holds a chart that painted something
    for (const c of charts) {
      expect(c.type, c.id).not.toBeNull();
      expect(c.datasets.length, c.id).toBeGreaterThan(0);
      expect(c.painted, c.id).toBeGreaterThan(0);
    }
    const kernel = `${s.runner} ${s.kernel.release}`;
    // the timeline ends on the run's counts
    const last = s.timeline.at(-1)!;
    expect(last.cases).toBe(s.cases);
    const end = (c: DrawnChart, label: string): unknown => c.datasets.find((d) => d.label === label)?.data.at(-1);
    expect(chart('chart-cases').datasets.map((d) => d.label)).toEqual([kernel]);
    expect(end(chart('chart-cases'), kernel)).toEqual({ x: last.ms / 1000, y: s.cases });
    expect(end(chart('chart-bugs'), 'failing cases')).toEqual({ x: last.ms / 1000, y: s.failed + s.errors });
    expect(end(chart('chart-bugs'), 'bugs')).toEqual({ x: last.ms / 1000, y: Object.keys(s.bugs).length });
    expect(end(chart('chart-bugs'), 'known-divergence cases')).toEqual({ x: last.ms / 1000, y: s.divergent });
    expect(chart('chart-rate').datasets[0]!.data.length).toBeGreaterThan(0);
    // kernels × rules: every spec rule, with its case count
    const rules = chart('chart-rules');
    expect(rules.labels).toEqual(Object.keys(s.ruleCoverage.byRule).sort());
    expect(rules.datasets).toEqual([{ label: kernel, data: rules.labels!.map((r) => s.ruleCoverage.byRule[r as string]) }]);
    // known divergences seen, with the cases each explained (when the run met any)
    const ids = Object.keys(s.divergenceCases).sort();
    if (ids.length === 0) expect(charts.map((c) => c.id)).not.toContain('chart-divergences');
    else expect(chart('chart-divergences')).toMatchObject({ labels: ids, datasets: [{ label: kernel, data: ids.map((id) => s.divergenceCases[id]) }] });
  });

  it('should open each bug\'s reproducer and verifier log in one click from its row', async (ctx) => {
    await needs(ctx, 'kernel');
    const { out, url, summary: s } = await openReport();
    const { page, blocked, errors } = await offlinePage(browser!);
    const withFinding = Object.values(s.bugs).flatMap((b) => b.cases.flatMap((c) => (c.finding === null ? [] : [c.finding])));
    expect(withFinding.length).toBeGreaterThan(0);
    for (const id of withFinding) {
      const ref = s.findings.find((f) => f.id === id)!;
      for (const file of ['repro.bpf.c', 'verifier.log']) {
        await page.goto(url);
        const row = page.locator('h2:text-is("Bugs") ~ table tr', { has: page.locator(`a[href="#${id}"]`) });
        await Promise.all([page.waitForURL(`**/${ref.dir}/${file}`), row.locator('a', { hasText: file }).click()]);
        expect(await page.evaluate(() => document.body.innerText)).toBe(await readFile(join(out, ref.dir, file), 'utf8'));
      }
      // and the finding's section, with both inlined, one click away too (a report copied alone)
      await page.goto(url);
      await page.locator(`h2:text-is("Bugs") ~ table a[href="#${id}"]`).click();
      await expect.poll(() => page.evaluate(() => location.hash)).toBe(`#${id}`);
      expect(await page.locator(`section[id="${id}"]`).isVisible()).toBe(true);
    }
    expect(blocked).toEqual([]);
    expect(errors).toEqual([]);
    await page.close();
  });

  it('should show the run summary with the counts of summary.json', async (ctx) => {
    await needs(ctx, 'kernel');
    const { page, summary: s } = await openReport();
    const [header, row, ...rest] = await tableAfter(page, 'Run summary');
    expect(rest).toEqual([]);
    const cell = (name: string): string | undefined => row![header!.indexOf(name)];
    expect(cell('kernel')).toBe(s.kernel.release);
    expect(cell('seed')).toBe(String(s.seed));
    expect(cell('cases')).toBe(String(s.cases));
    expect(cell('failed')).toBe(String(s.failed));
    expect(cell('unexplained mismatches')).toBe(String(s.mismatches.unexplained));
    expect(cell('rules hit')).toBe(`${s.ruleCoverage.hit}/${s.ruleCoverage.total}`);
  });

  it('should show the rule coverage table with every spec rule and its case count', async (ctx) => {
    await needs(ctx, 'kernel');
    const { page, summary } = await openReport();
    const [, ...rows] = await tableAfter(page, 'Rule coverage');
    expect(Object.fromEntries(rows.map(([rule, n]) => [rule, Number(n)]))).toEqual(summary.ruleCoverage.byRule);
  });

  it('should show each finding with its minimal program, verifier log, expected vs observed and replay command', async (ctx) => {
    await needs(ctx, 'kernel');
    const { page, out, summary } = await openReport();
    for (const f of summary.findings) {
      const section = page.locator(`section[id="${f.id}"]`);
      expect(await section.locator('h3').textContent()).toBe(f.id);
      expect(await section.locator('p', { hasText: 'replay:' }).locator('code').textContent()).toBe(f.replay);
      const pres = await section.locator('pre').allTextContents();
      expect(pres).toContain(await readFile(join(out, f.dir, 'repro.bpf.c'), 'utf8'));
      expect(pres).toContain(await readFile(join(out, f.dir, 'verifier.log'), 'utf8'));
      const mismatchRows = await section.locator('table tr').evaluateAll((rows) => rows.slice(1).map((r) => [...r.querySelectorAll('td')].map((c) => c.textContent)));
      const { result } = await readFindingRecord(out, f);
      expect(mismatchRows).toEqual(result.mismatches.map((m) => [m.kind, m.program ?? '', m.step === null ? '' : String(m.step), m.expected, m.observed]));
      expect(await section.isVisible()).toBe(true);
    }
  });

  it('should render to a non-empty PNG screenshot', async (ctx) => {
    await needs(ctx, 'kernel');
    const { page } = await openReport();
    mkdirSync(SHOTS, { recursive: true });
    const path = join(SHOTS, 'report.png');
    await page.screenshot({ path, fullPage: true });
    const png = await readFile(path);
    expect([...png.subarray(0, 8)]).toEqual([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
    // IHDR: the full page, taller than one screen because the finding's program and log are laid out in it
    expect(png.readUInt32BE(16)).toBe(page.viewportSize()!.width);
    expect(png.readUInt32BE(20)).toBeGreaterThan(page.viewportSize()!.height);
  });
});
