import { describe, expect, it } from 'vitest';
import { consoleReporter } from '../../../reports/console.ts';
import { printable } from '../../../reports/printable.ts';
import type { RunMeta } from '../../../reports/reporter.ts';
import { summarize } from '../../../reports/summary.ts';
import { PROBED_KERNEL } from './fixtures/cases.ts';
import { reporterOptions, sampleCases } from './fixtures/sample.ts';

const meta: RunMeta = { runner: 'host', kernel: PROBED_KERNEL, seed: 42, total: 5, replay: { runner: 'host', kernel: null, codegen: 'clang' } };

async function drive(over: Parameters<typeof reporterOptions>[0], m: RunMeta = meta): Promise<string> {
  const options = await reporterOptions(over);
  const reporter = consoleReporter(options);
  const cases = sampleCases();
  reporter.onStart?.(m);
  for (const c of cases) await reporter.onCase(c.result, c.prediction, c.observation, null);
  await reporter.onEnd([summarize(cases.map((c) => c.result), { ...meta, durationMs: 1000, ruleIds: ['refs.unreleased'] })]);
  return options.written.join('');
}

describe('consoleReporter', () => {
  it('should print each failure with scenario, kernel, runner, rule and a replay command', async () => {
    const out = await drive({ outDir: 'out' });
    expect(out).toContain('FAIL rp_fail kernel=6.18.44-fc-v669 runner=host rule=refs.unreleased\n');
    expect(out).toContain('  replay: npx kptr-conform replay out/findings/rp_fail-host-6.18.44-fc-v669/scenario.yaml --runner host\n');
    expect(out).toContain('ERROR rp_err kernel=6.18.44-fc-v669 runner=host');
    expect(out).not.toContain('rp_pass kernel');
    expect(out).not.toContain('\r');
  });

  it('should name the vm kernel and a codegen other than replay\'s in the replay command, so that it works when pasted', async () => {
    const out = await drive({ outDir: 'out' }, { ...meta, runner: 'vm', replay: { runner: 'vm', kernel: '/img/bzImage 6.12', codegen: 'direct' } });
    expect(out).toContain(`/scenario.yaml --runner vm --kernel '/img/bzImage 6.12' --codegen direct\n`);
  });

  it('should print what a kernel or guest sent with its control characters shown, not acted on by the terminal', async () => {
    const out = await drive({ outDir: 'out' });
    // rp_fail observed a global holding \u0001 (sample.ts)
    expect(out).toContain('\\x01');
    expect(out).not.toMatch(/[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/);
    expect(printable('WARNING\x1bc\x1b[2J\u009b1m ok\n\tnext')).toBe('WARNING\\x1bc\\x1b[2J\\x9b1m ok\n\tnext');
  });

  it('should point a replay at the file it read and a selftest at its id: neither writes findings/', async () => {
    const replayed = await drive({ outDir: 'out', rerun: { kind: 'file', file: '/corpus/rp.yaml' } });
    expect(replayed).toContain('  replay: npx kptr-conform replay /corpus/rp.yaml --runner host\n');
    expect(replayed).not.toContain('out/findings');
    const selftest = await drive({ outDir: 'out', rerun: { kind: 'selftest' } });
    expect(selftest).toContain('  again: npx kptr-conform selftests --filter rp_fail --runner host\n');
    expect(selftest).not.toContain('out/findings');
  });

  it('should say where a shrinking campaign will write the finding instead of naming a path the shrunk one will not have', async () => {
    const out = await drive({ outDir: 'out', rerun: { kind: 'shrunk-finding' } });
    expect(out).toContain('FAIL rp_fail kernel=6.18.44-fc-v669 runner=host rule=refs.unreleased\n');
    expect(out).toContain('  finding: written under out/findings/ as the campaign ends');
    expect(out).not.toContain('replay: npx kptr-conform replay out/findings/rp_fail');
  });

  it('should print plain progress lines with rate and ETA when not on a terminal', async () => {
    const out = await drive({});
    // the injected clock advances 250 ms per reading: 5 cases in 1.25 s
    expect(out).toContain('[host 6.18.44-fc-v669] 5/5 cases  4.0/s  ETA 0s  2 mismatching\n');
  });

  it('should rewrite one progress line with \\r on a terminal', async () => {
    const out = await drive({ isTTY: true });
    expect(out.split('\r\x1b[K[host 6.18.44-fc-v669]').length - 1).toBe(5);
    expect(out).toContain('\r\x1b[Krunner');
  });

  it('should print only the summary table with quiet', async () => {
    const out = await drive({ quiet: true });
    expect(out.split('\n')[0]).toMatch(/^runner\s+kernel\s+cases\s+pass\s+fail\s+skip\s+diverg\s+error\s+rules\s+cases\/s$/);
    expect(out.split('\n')[1]).toMatch(/^host\s+6\.18\.44-fc-v669\s+5\s+1\s+1\s+1\s+1\s+1\s+1\/1\s+5$/);
    expect(out).not.toContain('FAIL rp_fail');
  });

  it('should say under the summary which known divergences the kernel shows and which are fixed in this build', async () => {
    const out = await drive({ quiet: true });
    expect(out).toContain('known divergences on 6.18.44-fc-v669: shows nested_special_field_accepted\n');
    expect(out).toContain("  plain_obj_into_percpu: fixed in this build (6.18.44-fc-v669): its range '>=6.18 <7.3' includes it, its probe does not show it\n");
  });

  it('should count under the summary the cases by schedule step and kptr home', async () => {
    const out = await drive({ quiet: true });
    expect(out).toMatch(/\ncases on 6\.18\.44-fc-v669 by schedule step: run 3; by kptr home: map array 3\n/);
  });

  it('should leave out a kind no case held (selftests without a schedule)', async () => {
    const options = await reporterOptions({ outDir: 'out', quiet: true });
    const reporter = consoleReporter(options);
    await reporter.onEnd([{ ...summarize([], { ...meta, durationMs: 1000, ruleIds: [] }), exerciseCoverage: { 'home global bss': 2 } }]);
    expect(options.written.join('')).toContain('\ncases on 6.18.44-fc-v669 by kptr home: global bss 2\n');
  });

  it('should print only the summary JSON with json', async () => {
    const out = await drive({ json: true });
    const lines = out.trimEnd().split('\n');
    expect(lines).toHaveLength(1);
    expect(JSON.parse(lines[0]!)).toMatchObject({ runner: 'host', cases: 5, failed: 1, errors: 1 });
  });

  it('should list findings under their bugs, counting bugs and cases apart', async () => {
    const options = await reporterOptions({ outDir: 'out', quiet: true });
    const reporter = consoleReporter(options);
    const base = summarize([], { ...meta, durationMs: 1000, ruleIds: [] });
    const ref = { id: 'f1', scenarioId: 's7_1', runner: 'host' as const, kernelRelease: 'k', kinds: ['message' as const], dir: 'findings/f1', replay: 'npx kptr-conform replay out/findings/f1/scenario.yaml', reproduced: null, unshrunkBecause: null };
    const listed = (i: number) => ({ scenarioId: `s7_${i}`, seed: 7, index: i, result: `results.jsonl:${i}`, finding: null });
    await reporter.onEnd([{
      ...base,
      findings: [ref],
      bugs: {
        'message[r]: X @ k': { kinds: ['message'], seenBefore: false, cases: [{ ...listed(1), finding: 'f1' }, ...[2, 3, 4, 5, 6, 7, 8].map(listed)] },
        'value[valid]: global @ k': { kinds: ['value'], seenBefore: true, cases: [listed(9)] },
      },
    }]);
    const out = options.written.join('');
    expect(out).toContain('host 6.18.44-fc-v669: 2 bugs (1 new, 1 seen again) in 9 failing cases\n');
    expect(out).toContain(`bug (new, 8 cases): message[r]: X @ k\n  finding f1 (message): ${ref.replay}\n  also: s7_2 (results.jsonl:2), s7_3 (results.jsonl:3), s7_4 (results.jsonl:4), s7_5 (results.jsonl:5), s7_6 (results.jsonl:6), … 2 more in summary.json\n`);
    expect(out).toContain('bug (seen again, 1 case): value[valid]: global @ k\n  also: s7_9 (results.jsonl:9)');
  });
});
