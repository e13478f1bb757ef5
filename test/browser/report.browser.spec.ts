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

interface Opened {
  readonly out: string;
  readonly summary: Summary;
  readonly page: Page;
  readonly url: string;
  /** every request the page made while loading, as URLs */
  readonly requests: readonly string[];
  /** console errors and uncaught page errors while loading */
  readonly errors: readonly string[];
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
  const page = await browser.newPage();
  const requests: string[] = [];
  const errors: string[] = [];
  page.on('request', (r) => requests.push(r.url()));
  page.on('console', (m) => { if (m.type() === 'error') errors.push(m.text()); });
  page.on('pageerror', (e) => errors.push(e.message));
  const url = pathToFileURL(join(run.out, 'report.html')).href;
  await page.goto(url, { waitUntil: 'load' });
  return { out: run.out, summary, page, url, requests, errors };
});

/** The cells of the table under the heading `title`, row by row (header row first). */
async function tableAfter(page: Page, title: string): Promise<string[][]> {
  const table = page.locator(`h2:text-is("${title}") + table`);
  return table.locator('tr').evaluateAll((rows) => rows.map((r) => [...r.querySelectorAll('th,td')].map((c) => c.textContent ?? '')));
}

describe('report.html in chromium', () => {
  it('should load from file:// alone: no other request, no console error', async (ctx) => {
    await needs(ctx, 'kernel');
    const { url, requests, errors } = await openReport();
    expect(requests).toEqual([url]);
    expect(errors).toEqual([]);
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
