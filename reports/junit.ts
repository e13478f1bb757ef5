import { join } from 'node:path';
import type { CaseResult, Observation, Prediction } from '../types/index.ts';
import { bugCountsLine } from './bugBuckets.ts';
import { caseRule } from './caseRule.ts';
import { escapeMarkup } from './escapeMarkup.ts';
import { caseDurations } from './jsonl.ts';
import type { Reporter, ReporterOptions } from './reporter.ts';
import { slot, TailedFile } from './TailedFile.ts';

/** What junit.xml needs of one case. */
export interface JunitCase {
  readonly result: CaseResult;
  /** JUnit classname: the rule the case is about, or `valid` */
  readonly classname: string;
  readonly seconds: number;
  /** verifier logs of the rejected programs, the case's <system-out> */
  readonly systemOut: string;
}

export function junitCase(r: CaseResult, p: Prediction | null, o: Observation): JunitCase {
  const d = caseDurations(o);
  let systemOut = '';
  for (const x of o.programs) if (x.verdict === 'rejected') systemOut += `${systemOut === '' ? '' : '\n'}--- ${x.program}: ${x.summary}\n${x.log}`;
  return { result: r, classname: caseRule(p), seconds: (d.loadNs + d.runNs) / 1e9, systemOut };
}

const attr = (s: string | number): string => `"${escapeMarkup(String(s), true)}"`;

const mismatchText = (r: CaseResult): string =>
  r.mismatches.map((m) => `${m.kind}${m.program === null ? '' : ` ${m.program}`}${m.step === null ? '' : ` step ${m.step}`}\n  expected: ${m.expected}\n  observed: ${m.observed}\n${m.detail}`).join('\n\n');

function outcome(r: CaseResult): string {
  const first = r.mismatches[0];
  switch (r.status) {
    case 'pass':
      return '';
    case 'skip':
      return `<skipped message=${attr(r.skipReason ?? 'skipped')}/>`;
    // A known divergence is reported like an expected failure (pytest's xfail): skipped, with the divergence ids.
    case 'divergence':
      return `<skipped type="divergence" message=${attr(`known divergence: ${r.divergences.join(', ')}`)}>${escapeMarkup(mismatchText(r))}</skipped>`;
    case 'error':
    case 'fail': {
      const tag = r.status === 'error' ? 'error' : 'failure';
      const message = first === undefined ? r.status : `${first.expected} != ${first.observed}`;
      return `<${tag} message=${attr(message)} type=${attr(first?.kind ?? r.status)}>${escapeMarkup(mismatchText(r))}</${tag}>`;
    }
  }
}

/** Room in an opening tag for its counts: tests, failures, errors, skipped (up to 10 digits each) and time. */
const COUNTS_WIDTH = 120;

interface Tally { tests: number; failures: number; errors: number; skipped: number; seconds: number }

const tally = (): Tally => ({ tests: 0, failures: 0, errors: 0, skipped: 0, seconds: 0 });

function count(t: Tally, c: JunitCase): void {
  t.tests += 1;
  if (c.result.status === 'fail') t.failures += 1;
  if (c.result.status === 'error') t.errors += 1;
  if (c.result.status === 'skip' || c.result.status === 'divergence') t.skipped += 1;
  t.seconds += c.seconds;
}

const suiteCounts = (t: Tally): string => slot(`tests="${t.tests}" failures="${t.failures}" errors="${t.errors}" skipped="${t.skipped}" time="${t.seconds.toFixed(3)}"`, COUNTS_WIDTH);
const totalCounts = (t: Tally): string => slot(`tests="${t.tests}" failures="${t.failures}" errors="${t.errors}" time="${t.seconds.toFixed(3)}"`, COUNTS_WIDTH);

function testcase(c: JunitCase): string {
  const inner = outcome(c.result) + (c.systemOut === '' ? '' : `<system-out>${escapeMarkup(c.systemOut)}</system-out>`);
  const open = `    <testcase classname=${attr(c.classname)} name=${attr(c.result.scenarioId)} time=${attr(c.seconds.toFixed(3))}`;
  return inner === '' ? `${open}/>` : `${open}>${inner}</testcase>`;
}

const suiteName = (r: CaseResult): string => `kptr-conform ${r.runner} ${r.kernelRelease}`;

/**
 * junit.xml written as cases finish: one <testsuite> per runner + kernel (classname rule, name scenario id), counts
 * patched into the opening tags after each case, closing tags always in place (TailedFile): valid XML at every point.
 */
export class JunitWriter {
  private readonly file: TailedFile;
  private readonly total = tally();
  private suite: { name: string; counts: Tally; slotAt: number } | null = null;
  private readonly totalSlotAt: number;

  /** @throws KptrError KPTR_DISK_FULL */
  constructor(path: string) {
    const head = '<?xml version="1.0" encoding="UTF-8"?>\n<testsuites name="kptr-conform" ';
    this.file = new TailedFile(path, `${head}${totalCounts(this.total)}>\n`, '</testsuites>\n');
    this.totalSlotAt = Buffer.byteLength(head);
  }

  /** @throws KptrError KPTR_DISK_FULL (the file stays as it was before this case) */
  add(c: JunitCase): void {
    const name = suiteName(c.result);
    let text = '';
    let suite = this.suite;
    if (suite?.name !== name) {
      const close = suite === null ? '' : '  </testsuite>\n';
      const open = `  <testsuite name=${attr(name)} `;
      suite = { name, counts: tally(), slotAt: this.file.offset + Buffer.byteLength(close + open) };
      text = `${close}${open}${suiteCounts(suite.counts)}>\n`;
    }
    this.file.append(`${text}${testcase(c)}\n`, '  </testsuite>\n</testsuites>\n');
    this.suite = suite;
    count(suite.counts, c);
    count(this.total, c);
    this.file.patch(suite.slotAt, suiteCounts(suite.counts));
    this.file.patch(this.totalSlotAt, totalCounts(this.total));
  }

  flush(): void {
    this.file.flush();
  }

  /**
   * Closes the file; `systemOut` (the bugs, counted apart from the cases) goes in the last testsuite's <system-out>,
   * after its testcases as the schema wants (testsuites itself holds only testsuite elements).
   */
  close(systemOut = ''): void {
    if (systemOut !== '' && this.suite !== null) this.file.append(`    <system-out>${escapeMarkup(systemOut)}</system-out>\n`, '  </testsuite>\n</testsuites>\n');
    this.file.close();
  }
}

/** junit.xml for CI (Jenkins, GitLab, GitHub test reporters). */
export function junitReporter(options: ReporterOptions): Reporter {
  let writer: JunitWriter | null = null;
  const open = (): JunitWriter => (writer ??= new JunitWriter(join(options.outDir, 'junit.xml')));
  return {
    onCase(r, p, o) {
      open().add(junitCase(r, p, o));
    },
    flush() {
      writer?.flush();
    },
    onEnd(summaries) {
      // a run without cases still leaves a (valid, empty) junit.xml
      const bugs = summaries.filter((s) => Object.keys(s.bugs).length > 0)
        .map((s) => [`${s.runner} ${s.kernel.release}: ${bugCountsLine(s.bugs)}`, ...Object.entries(s.bugs).map(([sig, b]) => `  ${b.seenBefore ? 'seen again' : 'new'}, ${b.cases.length} case(s): ${sig}`)].join('\n'));
      open().close(bugs.join('\n'));
    },
  };
}
