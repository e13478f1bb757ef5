import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { CaseResult, Observation, Prediction } from '../types/index.ts';
import { caseRule } from './caseRule.ts';
import { escapeMarkup } from './escapeMarkup.ts';
import { caseDurations } from './jsonl.ts';
import type { Reporter, ReporterOptions } from './reporter.ts';

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
  const logs = o.programs.flatMap((x) => (x.verdict === 'rejected' ? [`--- ${x.program}: ${x.summary}\n${x.log}`] : []));
  return { result: r, classname: caseRule(p), seconds: (d.loadNs + d.runNs) / 1e9, systemOut: logs.join('\n') };
}

const attr = (s: string | number): string => `"${escapeMarkup(String(s), true)}"`;

function outcome(r: CaseResult): string {
  const first = r.mismatches[0];
  const diff = r.mismatches.map((m) => `${m.kind}${m.program === null ? '' : ` ${m.program}`}${m.step === null ? '' : ` step ${m.step}`}\n  expected: ${m.expected}\n  observed: ${m.observed}\n${m.detail}`).join('\n\n');
  switch (r.status) {
    case 'pass':
      return '';
    case 'skip':
      return `<skipped message=${attr(r.skipReason ?? 'skipped')}/>`;
    // A known divergence is reported like an expected failure (pytest's xfail): skipped, with the divergence ids.
    case 'divergence':
      return `<skipped type="divergence" message=${attr(`known divergence: ${r.divergences.join(', ')}`)}>${escapeMarkup(diff)}</skipped>`;
    case 'error':
    case 'fail': {
      const tag = r.status === 'error' ? 'error' : 'failure';
      const message = first === undefined ? r.status : `${first.expected} != ${first.observed}`;
      return `<${tag} message=${attr(message)} type=${attr(first?.kind ?? r.status)}>${escapeMarkup(diff)}</${tag}>`;
    }
  }
}

/** Render junit.xml: one <testsuite> per runner + kernel, one <testcase> per case (classname rule, name scenario id). */
export function renderJunit(cases: readonly JunitCase[]): string {
  const suites = new Map<string, JunitCase[]>();
  for (const c of cases) {
    const key = `kptr-conform ${c.result.runner} ${c.result.kernelRelease}`;
    suites.set(key, [...(suites.get(key) ?? []), c]);
  }
  const count = (cs: readonly JunitCase[], ...st: CaseResult['status'][]): number => cs.filter((c) => st.includes(c.result.status)).length;
  const time = (cs: readonly JunitCase[]): string => cs.reduce((t, c) => t + c.seconds, 0).toFixed(3);
  const body = [...suites].map(([name, cs]) => {
    const testcases = cs.map((c) => {
      const inner = outcome(c.result) + (c.systemOut === '' ? '' : `<system-out>${escapeMarkup(c.systemOut)}</system-out>`);
      const open = `    <testcase classname=${attr(c.classname)} name=${attr(c.result.scenarioId)} time=${attr(c.seconds.toFixed(3))}`;
      return inner === '' ? `${open}/>` : `${open}>${inner}</testcase>`;
    });
    const counts = `tests="${cs.length}" failures="${count(cs, 'fail')}" errors="${count(cs, 'error')}" skipped="${count(cs, 'skip', 'divergence')}"`;
    return [`  <testsuite name=${attr(name)} ${counts} time="${time(cs)}">`, ...testcases, '  </testsuite>'].join('\n');
  });
  const totals = `tests="${cases.length}" failures="${count(cases, 'fail')}" errors="${count(cases, 'error')}"`;
  return ['<?xml version="1.0" encoding="UTF-8"?>', `<testsuites name="kptr-conform" ${totals} time="${time(cases)}">`, ...body, '</testsuites>', ''].join('\n');
}

/** junit.xml for CI (Jenkins, GitLab, GitHub test reporters). */
export function junitReporter(options: ReporterOptions): Reporter {
  const cases: JunitCase[] = [];
  return {
    onCase(r, p, o) {
      cases.push(junitCase(r, p, o));
    },
    async onEnd() {
      await mkdir(options.outDir, { recursive: true });
      await writeFile(join(options.outDir, 'junit.xml'), renderJunit(cases));
    },
  };
}
