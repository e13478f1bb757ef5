import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { attributeSplats } from '../../../../runners/host/attributeSplats.ts';
import { consoleSplats } from '../../../../runners/kernelLog.ts';
import { loadScenarioFile } from '../../../../specs/load.ts';

const regressions = new URL('../../../../specs/regressions/', import.meta.url);
const rax = loadScenarioFile(new URL('rcu_alloc_xchg_src.yaml', regressions).pathname);
const puc = loadScenarioFile(new URL('percpu_obj_new_uncleared.yaml', regressions).pathname);
/**
 * /dev/kmsg as the host runner reads it: the verifier WARN recorded on the 6.18.44-fc-v1098 host (harness PID 8012,
 * loading rax_p2's twin) between the `logged` markers two side-by-side harness processes (8012, 8013) write with
 * --kmsg-watch, an unrelated line, and a WARN from an RCU callback (PID 0) that no load or test_run logged.
 */
const kmsg = readFileSync(new URL('fixtures/kmsg-verifier-bug-6.18.44.txt', import.meta.url), 'utf8');

describe('attributeSplats()', () => {
  it('pins a splat on the program whose marker of the same PID follows it, and an unclaimed one on the whole batch', () => {
    const out = attributeSplats(kmsg, [rax, puc]);
    const raxSplats = out.get('rax') ?? [];
    expect(raxSplats.map((s) => [s.kind, s.during])).toEqual([['verifier_bug', 'rax_p2'], ['warn', null]]);
    expect(raxSplats[0]?.text).toContain('WARNING: CPU: 1 PID: 8012 at kernel/bpf/verifier.c:9661 check_reg_type');
    // 8013's markers in between (puc_fresh logged something too) do not claim 8012's splat
    expect((out.get('puc') ?? []).map((s) => [s.kind, s.during])).toEqual([['warn', null]]);
  });

  it('falls back to the whole batch when no marker names the program (a harness without --kmsg-watch)', () => {
    const unmarked = kmsg.split('\n').filter((l) => !l.startsWith('kptr-conform: logged')).join('\n');
    const out = attributeSplats(unmarked, [rax, puc]);
    expect((out.get('rax') ?? []).map((s) => s.during)).toEqual([null, null]);
    expect((out.get('puc') ?? []).map((s) => s.kind)).toEqual(['verifier_bug', 'warn']);
  });

  it('does not let a marker outside any program claim a splat for the next program', () => {
    // the WARN before 8012's bare `logged 8012`: logged between calls, so not rax_p2's
    const moved = kmsg.replace('kptr-conform: logged 8012\n', '').replace('kptr-conform: logged 8013 puc puc_fresh\n', 'kptr-conform: logged 8013 puc puc_fresh\nkptr-conform: logged 8012\n');
    expect(consoleSplats(moved).map((s) => s.program)).toEqual([null, null]);
  });

  it('keeps a report whole when another process\'s marker lands inside it', () => {
    const lines = kmsg.split('\n').filter((l) => l !== 'kptr-conform: logged 8013 puc puc_fresh');
    lines.splice(lines.findIndex((l) => l.startsWith('Call Trace:')), 0, 'kptr-conform: logged 8013 puc puc_fresh');
    const [warn] = consoleSplats(lines.join('\n'));
    expect([warn?.program, warn?.text.includes('bpf_prog_load+0x6f7/0x10f0')]).toEqual(['rax_p2', true]);
  });

  it('reads the 7.x report header (`CPU#0: harness/110`) as that task', () => {
    const text = [
      '------------[ cut here ]------------',
      'verifier bug: invalid PTR_TO_BTF_ID register for type match',
      'WARNING: kernel/bpf/verifier.c:8467 at check_reg_type+0x34f/0x830, CPU#0: harness/110',
      '---[ end trace 0000000000000000 ]---',
      'kptr-conform: logged 110 rax rax_p3',
    ].join('\n');
    expect(consoleSplats(text).map((s) => [s.kind, s.scenarioId, s.program])).toEqual([['verifier_bug', 'rax', 'rax_p3']]);
  });
});
