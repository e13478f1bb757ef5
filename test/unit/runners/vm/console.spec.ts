import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { consoleSplats, hasFatalLine, unclosedScenarios } from '../../../../runners/kernelLog.ts';
import { parseChannel } from '../../../../runners/vm/console.ts';

const fixture = (name: string): string => readFileSync(new URL(`./fixtures/${name}`, import.meta.url), 'utf8');

/** A WARN as the 6.18 kernel prints it (shape of kernel/panic.c __warn), inside and after a case's markers. */
const WARN_CONSOLE = [
  '[    2.100000] kptr-conform: begin s1',
  '[    2.200000] kptr-conform: end s1',
  '[    2.300000] kptr-conform: begin s2',
  '[    2.400000] ------------[ cut here ]------------',
  '[    2.400001] WARNING: CPU: 1 PID: 55 at kernel/bpf/memalloc.c:253 __free_by_rcu+0x9a/0xb0',
  '[    2.400002] Modules linked in:',
  '[    2.400003] Call Trace:',
  '[    2.400004]  <TASK>',
  '[    2.400005]  rcu_do_batch+0x1a0/0x4b0',
  '[    2.400006]  </TASK>',
  '[    2.400007] ---[ end trace 0000000000000000 ]---',
  '[    2.500000] harmless line',
  '[    2.600000] kptr-conform: end s2',
  '[    2.700000] BUG: kernel NULL pointer dereference, address: 0000000000000008',
  '[    2.700001] #PF: supervisor read access in kernel mode',
  '[    2.700002] Oops: 0000 [#1] PREEMPT SMP NOPTI',
  '[    2.700003] ---[ end trace 0000000000000000 ]---',
  '',
].join('\r\n');

describe('parseChannel', () => {
  it('should read framed harness lines and ignore garbage interleaved with them', () => {
    const text = [
      'SeaBIOS (version 1.16.2-debian-1.16.2-1)',
      '@@KPTR 1 begin boot0',
      'random text {"ev":"done"}',
      '\u001b[2J@@KPTR 2 case s1',
      '@@KPTR 3 out {"ev":"kernel","release":"6.12.117+deb13-cloud-amd64","nr_cpus":2}',
      '{"ev":"load","prog":"fake","verdict":"accepted","ns":1}',
      '@@KPTR 4 out {"ev":"done"}\r',
      '@@KPTR 5 err libbpf: something',
      '@@KPTR 6 exit s1 0',
      '@@KPTR 7 end boot0',
      '',
    ].join('\n');
    expect(parseChannel(text)).toEqual({
      batch: 'boot0',
      ended: true,
      lost: 0,
      cases: [{
        unit: 's1',
        out: ['{"ev":"kernel","release":"6.12.117+deb13-cloud-amd64","nr_cpus":2}', '{"ev":"done"}'],
        err: ['libbpf: something'],
        exitStatus: 0,
      }],
    });
  });

  it('should count missing, repeated and malformed frames as lost and drop a torn last line', () => {
    const text = '@@KPTR 1 begin b\n@@KPTR 2 case s1\n@@KPTR three out {}\n@@KPTR 4 out {"ev":"done"}\n@@KPTR 4 out {"ev":"x"}\n@@KPTR 5 exit s1 0\n@@KPTR 6 out {"ev":"to';
    const ch = parseChannel(text);
    expect(ch.lost).toBe(3);
    expect(ch.cases[0]?.out).toEqual(['{"ev":"done"}']);
    expect(ch.ended).toBe(false);
  });

  it('should leave the case a real guest died in open (6.12 panic capture)', () => {
    const ch = parseChannel(fixture('panic-6.12.channel.log'));
    expect(ch.batch).toBe('boot0');
    expect(ch.ended).toBe(false);
    expect(ch.lost).toBe(0);
    expect(ch.cases.map((c) => [c.unit, c.exitStatus])).toEqual([['vm_before', 0], ['vm_boom', null]]);
  });
});

describe('consoleSplats', () => {
  it('should pin a real 7.3 verifier WARN on the program the harness\'s logged marker names (regression rax, --kmsg-watch)', () => {
    const splats = consoleSplats(fixture('verifier-bug-7.3.console.log'));
    expect(splats.map((s) => [s.kind, s.scenarioId, s.program, s.during])).toEqual([['verifier_bug', 'rax', 'rax_p2', 'rax_p2']]);
    expect(splats[0]?.text).toContain('WARNING: kernel/bpf/verifier.c:8467 at check_reg_type+0x34f/0x830, CPU#0: harness/111');
  });

  it('should attribute a real 6.12 panic to the case whose markers surround it', () => {
    const splats = consoleSplats(fixture('panic-6.12.console.log'));
    expect(splats.map((s) => [s.kind, s.scenarioId, s.during])).toEqual([['panic', 'vm_boom', null]]);
    expect(splats[0]?.text).toMatch(/^Kernel panic - not syncing: sysrq triggered crash\n/);
    expect(splats[0]?.text).toContain('sysrq_handle_crash');
  });

  it('should keep a WARN report whole and attribute a splat after a case to the case that ended last', () => {
    const splats = consoleSplats(WARN_CONSOLE);
    expect(splats.map((s) => [s.kind, s.scenarioId, s.during])).toEqual([
      ['warn', 's2', null],
      ['oops', 's2', 'after the case ended'],
    ]);
    expect(splats[0]?.text.split('\n')).toHaveLength(8);
    expect(splats[0]?.text).not.toContain('harmless line');
  });

  it('should classify by the most severe line of a report', () => {
    const text = [
      '[ 1.0] kptr-conform: begin a',
      '[ 1.1] ------------[ cut here ]------------',
      '[ 1.2] WARNING: CPU: 0 PID: 1 at kernel/bpf/verifier.c:1 do_check+0x1/0x2',
      '[ 1.3] verifier bug: scc exit: no visit info for call chain',
      '[ 1.4] ---[ end trace 0000000000000000 ]---',
      '[ 1.5] ==================================================================',
      '[ 1.6] BUG: KASAN: slab-use-after-free in bpf_percpu_obj_drop_impl+0x10/0x20',
      '[ 1.7] ==================================================================',
      '[ 1.8] rcu: INFO: rcu_preempt detected stalls on CPUs/tasks:',
      '[ 1.9] kptr-conform: end a',
      '',
    ].join('\n');
    expect(consoleSplats(text).map((s) => s.kind)).toEqual(['verifier_bug', 'kasan', 'rcu_stall']);
  });

  it('should find a marker glued behind the boot loader’s last screen by a bare CR (a real CI console)', () => {
    // "Booting from ROM..\x1bc…\r[    5.211330] kptr-conform: begin vm_stalled": the CR, not a newline, ends the screen
    const text = fixture('bug-hang-after-bootloader.console.log');
    expect(text).toContain('\r[    5.211330] kptr-conform: begin vm_stalled');
    expect(consoleSplats(text)).toEqual([
      { kind: 'bug', text: 'BUG: kptr-conform test hook: stalled after an oops', during: null, scenarioId: 'vm_stalled', program: null },
    ]);
    expect(unclosedScenarios(text)).toEqual(['vm_stalled']);
  });

  it('should attribute nothing to a scenario when no case has begun', () => {
    expect(consoleSplats('[ 0.5] WARNING: CPU: 0 PID: 1 at init/main.c:1 x\n')).toEqual([
      { kind: 'warn', text: 'WARNING: CPU: 0 PID: 1 at init/main.c:1 x', during: null, scenarioId: null, program: null },
    ]);
  });
});

describe('hasFatalLine', () => {
  it('should see an Oops, a BUG, KASAN or a panic behind the timestamp, and not a WARNING or an RCU stall', () => {
    expect(hasFatalLine('[   12.5] kptr-conform: begin s1\n[   12.6] BUG: unable to handle page fault for address: ff44\n')).toBe(true);
    expect(hasFatalLine('[    3.1] Oops: 0002 [#1] SMP NOPTI')).toBe(true);
    expect(hasFatalLine('Kernel panic - not syncing: Fatal exception in interrupt')).toBe(true);
    expect(hasFatalLine('[    3.1] WARNING: CPU: 1 PID: 0 at kernel/bpf/memalloc.c:368\n[    3.2] rcu: INFO: rcu_preempt detected stalls on CPUs/tasks:')).toBe(false);
  });
});

describe('unclosedScenarios', () => {
  it('should name the scenario a real 6.12 guest panicked in (its begin marker has no end)', () => {
    expect(unclosedScenarios(fixture('panic-6.12.console.log'))).toEqual(['vm_boom']);
  });

  it('should keep the order scenarios began in and forget those that ended', () => {
    const text = ['[ 1.0] kptr-conform: begin a', '[ 1.1] kptr-conform: begin b', '[ 1.2] kptr-conform: end a', '[ 1.3] kptr-conform: begin c', ''].join('\n');
    expect(unclosedScenarios(text)).toEqual(['b', 'c']);
    expect(unclosedScenarios(`${text}[ 1.4] kptr-conform: end c\n[ 1.5] kptr-conform: end b\n`)).toEqual([]);
  });
});
