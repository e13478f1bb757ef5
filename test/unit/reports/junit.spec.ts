import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';
import { describe, expect, it } from 'vitest';
import { junitReporter } from '../../../reports/junit.ts';
import { KERNEL } from './fixtures/cases.ts';
import { reporterOptions, sampleCases, type SampleCase } from './fixtures/sample.ts';

const XSD = fileURLToPath(new URL('./fixtures/junit-jenkins.xsd', import.meta.url));

/** xmllint (Debian libxml2-utils) against the Jenkins/Surefire schema; resolves with its exit code and stderr. */
async function validate(xml: string, dir: string): Promise<{ exitCode: number; stderr: string }> {
  const file = join(dir, 'check.xml');
  await writeFile(file, xml);
  const r = await execa('xmllint', ['--noout', '--schema', XSD, file], { reject: false });
  return { exitCode: r.exitCode ?? -1, stderr: r.stderr };
}

/** junit.xml as the reporter writes it for `cases`. */
async function junitOf(cases: readonly SampleCase[]): Promise<{ xml: string; dir: string }> {
  const options = await reporterOptions();
  const reporter = junitReporter(options);
  for (const c of cases) await reporter.onCase(c.result, c.prediction, c.observation, null);
  await reporter.onEnd([]);
  return { xml: await readFile(join(options.outDir, 'junit.xml'), 'utf8'), dir: options.outDir };
}

describe('junitReporter', () => {
  it('should write junit.xml that validates against the Jenkins/Surefire JUnit schema', async () => {
    const options = await reporterOptions();
    const reporter = junitReporter(options);
    for (const c of [...sampleCases(), ...sampleCases({ ...KERNEL, release: '7.3.4+deb13-cloud-amd64', version: '7.3.4' })]) {
      await reporter.onCase(c.result, c.prediction, c.observation, null);
    }
    await reporter.onEnd([]);
    const xml = await readFile(join(options.outDir, 'junit.xml'), 'utf8');
    const check = await validate(xml, options.outDir);
    expect(check.stderr).toContain('validates');
    expect(check.exitCode).toBe(0);
    expect(xml.match(/<testsuite /g)).toHaveLength(2);
    expect(xml).toContain('<testsuite name="kptr-conform host 7.3.4+deb13-cloud-amd64" tests="5" failures="1" errors="1" skipped="2"');
  });

  it('should be caught by the schema check when the structure is wrong', async () => {
    const { xml, dir } = await junitOf(sampleCases());
    expect((await validate(xml.replace('<testsuite name', '<testsuite nom'), dir)).exitCode).not.toBe(0);
  });

  it('should map each status to the JUnit element and keep the verifier log in system-out', async () => {
    const { xml } = await junitOf(sampleCases());
    const testcase = (name: string): string => xml.split('<testcase ').find((t) => t.includes(`name="${name}"`))!;
    expect(testcase('rp_pass')).toMatch(/^classname="refs.unreleased" name="rp_pass" time="0.000"><system-out>--- rp1_leak: load rp1_leak/);
    expect(testcase('rp_fail')).toContain('<failure message="');
    expect(testcase('rp_fail')).toContain('type="verdict_kernel_accepts"');
    expect(testcase('rp_skip')).toContain('<skipped message="program type fentry is not supported here: &quot;EPERM&quot; &amp; &lt;no tracing&gt;"/>');
    expect(testcase('rp_div')).toContain('<skipped type="divergence" message="known divergence: div_demo">');
    expect(testcase('rp_err')).toContain('<error message="the runner completes the scenario != KPTR_HARNESS_CRASH: harness died (SIGSEGV)" type="runner_error">');
    expect(testcase('rp_pass')).toContain('Unreleased reference id=2 alloc_insn=3');
    // a C0 control byte from the kernel must not make the XML ill-formed
    expect(xml).not.toMatch(/[\u0001]/);
  });
});

describe('junitReporter while a run goes on', () => {
  it('should leave a schema-valid junit.xml with the counts so far after every flushed case, before onEnd', async () => {
    const options = await reporterOptions();
    const reporter = junitReporter(options);
    const cases = [...sampleCases(), ...sampleCases({ ...KERNEL, release: '7.3.4+deb13-cloud-amd64', version: '7.3.4' })];
    for (const [i, c] of cases.entries()) {
      await reporter.onCase(c.result, c.prediction, c.observation, null);
      reporter.flush!();
      const xml = await readFile(join(options.outDir, 'junit.xml'), 'utf8');
      const check = await validate(xml, options.outDir);
      expect(check.exitCode, check.stderr).toBe(0);
      expect(xml).toMatch(new RegExp(`<testsuites name="kptr-conform" tests="${i + 1}" `));
    }
    await reporter.onEnd([]);
  });

  it('should write a valid, empty junit.xml for a run without cases', async () => {
    const { xml, dir } = await junitOf([]);
    expect((await validate(xml, dir)).exitCode).toBe(0);
    expect(xml).toContain('tests="0"');
  });
});
