import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { CaseResult, Mismatch, Observation, Prediction } from '../types/index.ts';
import type { Reporter, ReporterOptions } from './reporter.ts';

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

/**
 * One test per case, one subtest per program. Like test_progs, a test fails when it or a subtest failed; a known
 * divergence counts as a success with its ids in the message; the name gets ` @<runner>/<kernel>` when the file
 * holds several runner × kernel segments (test_progs' ` @unpriv` convention).
 */
export function renderTestProgsJson(cases: readonly TestProgsCase[]): TestProgsJson {
  const segments = new Set(cases.map((c) => `${c.result.runner}/${c.result.kernelRelease}`));
  const failing = (r: CaseResult): boolean => r.status === 'fail' || r.status === 'error';
  const results = cases.map((c, i): TestProgsTest => {
    const r = c.result;
    const subtests = r.status === 'skip' ? [] : c.programs.map((program, j): TestProgsSubtest => {
      const ms = r.mismatches.filter((m) => m.program === program);
      return { name: program, number: j + 1, message: describe(ms), failed: failing(r) && ms.length > 0 };
    });
    const name = segments.size > 1 ? `${r.scenarioId} @${r.runner}/${r.kernelRelease}` : r.scenarioId;
    return { name, number: i + 1, message: testMessage(r), failed: failing(r), subtests };
  });
  return {
    success: cases.filter((c) => c.result.status === 'pass' || c.result.status === 'divergence').length,
    success_subtest: results.reduce((n, t) => n + t.subtests.filter((s) => !s.failed).length, 0),
    skipped: cases.filter((c) => c.result.status === 'skip').length,
    failed: cases.filter((c) => failing(c.result)).length,
    results,
  };
}

/** test_progs.json, for CI that already parses `test_progs -J`. */
export function testProgsJsonReporter(options: ReporterOptions): Reporter {
  const cases: TestProgsCase[] = [];
  return {
    onCase(r, p, o) {
      cases.push(testProgsCase(r, p, o));
    },
    async onEnd() {
      await mkdir(options.outDir, { recursive: true });
      await writeFile(join(options.outDir, 'test_progs.json'), `${JSON.stringify(renderTestProgsJson(cases), null, 2)}\n`);
    },
  };
}
