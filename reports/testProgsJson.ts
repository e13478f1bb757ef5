import { join } from 'node:path';
import type { CaseResult, Mismatch, Observation, Prediction } from '../types/index.ts';
import type { Reporter, ReporterOptions } from './reporter.ts';
import { slot, TailedFile } from './TailedFile.ts';

/**
 * The JSON `test_progs -J FILE` writes (tools/testing/selftests/bpf/test_progs.c, calculate_summary_and_print_errors
 * and dump_test_log): the same field names, so tools that read test_progs output read ours.
 */
export interface TestProgsSubtest {
  readonly name: string;
  readonly number: number;
  readonly message: string;
  readonly failed: boolean;
}

export interface TestProgsTest {
  readonly name: string;
  readonly number: number;
  readonly message: string;
  readonly failed: boolean;
  readonly subtests: readonly TestProgsSubtest[];
}

export interface TestProgsJson {
  readonly success: number;
  readonly success_subtest: number;
  readonly skipped: number;
  readonly failed: number;
  /** not in test_progs' own output: the bugs (bug signatures) the failed tests show, counted apart from them */
  readonly bugs: number;
  readonly results: readonly TestProgsTest[];
}

/** What the format needs of one case: its result and the programs that are its subtests. */
export interface TestProgsCase {
  readonly result: CaseResult;
  readonly programs: readonly string[];
}

export function testProgsCase(r: CaseResult, p: Prediction | null, o: Observation): TestProgsCase {
  const programs = p?.programs.map((x) => x.program) ?? o.programs.map((x) => x.program);
  return { result: r, programs };
}

function describe(ms: readonly Mismatch[]): string {
  return ms.map((m) => `${m.kind}${m.step === null ? '' : ` step ${m.step}`}: expected ${m.expected}; observed ${m.observed}\n${m.detail}\n`).join('');
}

function testMessage(r: CaseResult): string {
  const own = describe(r.mismatches.filter((m) => m.program === null));
  switch (r.status) {
    case 'skip':
      return `SKIP: ${r.skipReason ?? ''}\n`;
    case 'divergence':
      return `known divergence: ${r.divergences.join(', ')}\n${own}`;
    default:
      return own;
  }
}

const failing = (r: CaseResult): boolean => r.status === 'fail' || r.status === 'error';

/**
 * One case as test_progs reports a test: one subtest per program. Like test_progs, a test fails when it or a subtest
 * failed; a known divergence counts as a success with its ids in the message; the name gets ` @<runner>/<kernel>`
 * when the file holds several runner × kernel segments (test_progs' ` @unpriv` convention).
 */
export function testProgsTest(c: TestProgsCase, number: number, severalKernels: boolean): TestProgsTest {
  const r = c.result;
  const subtests = r.status === 'skip' ? [] : c.programs.map((program, j): TestProgsSubtest => {
    const ms = r.mismatches.filter((m) => m.program === program);
    return { name: program, number: j + 1, message: describe(ms), failed: failing(r) && ms.length > 0 };
  });
  const name = severalKernels ? `${r.scenarioId} @${r.runner}/${r.kernelRelease}` : r.scenarioId;
  return { name, number, message: testMessage(r), failed: failing(r), subtests };
}

type Counts = Omit<TestProgsJson, 'results'>;

/** Room in the head for the five counts (up to 10 digits each). */
const COUNTS_WIDTH = 130;

const countsText = (n: Counts): string =>
  slot(`"success": ${n.success}, "success_subtest": ${n.success_subtest}, "skipped": ${n.skipped}, "failed": ${n.failed}, "bugs": ${n.bugs},`, COUNTS_WIDTH);

/**
 * test_progs.json, for CI that already parses `test_progs -J`: written as cases finish, one test per line, the
 * counts patched into their slot in the head and the closing brackets always in place (TailedFile).
 */
export function testProgsJsonReporter(options: ReporterOptions): Reporter {
  const counts = { success: 0, success_subtest: 0, skipped: 0, failed: 0, bugs: 0 };
  const HEAD = '{\n  ';
  let file: TailedFile | null = null;
  const open = (): TailedFile => (file ??= new TailedFile(join(options.outDir, 'test_progs.json'), `${HEAD}${countsText(counts)}\n  "results": [`, '\n  ]\n}\n'));
  let number = 0;
  return {
    onCase(r, p, o) {
      const t = testProgsTest(testProgsCase(r, p, o), number + 1, options.kernels > 1);
      const f = open();
      f.append(`${number === 0 ? '' : ','}\n    ${JSON.stringify(t)}`);
      number += 1;
      if (r.status === 'pass' || r.status === 'divergence') counts.success += 1;
      if (r.status === 'skip') counts.skipped += 1;
      if (failing(r)) counts.failed += 1;
      counts.success_subtest += t.subtests.filter((s) => !s.failed).length;
      f.patch(Buffer.byteLength(HEAD), countsText(counts));
    },
    flush() {
      file?.flush();
    },
    onEnd(summaries) {
      counts.bugs = summaries.reduce((n, s) => n + Object.keys(s.bugs).length, 0);
      const f = open();
      f.patch(Buffer.byteLength(HEAD), countsText(counts));
      f.close();
    },
  };
}
