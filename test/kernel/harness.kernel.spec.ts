import { copyFile, mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { beforeAll, describe, expect, it } from 'vitest';
import { bpfClangArgs, CLANG, compileBpf } from '../../compile/codegen/compileBpf.ts';
import { emitBatch } from '../../compile/codegen/emit.ts';
import { parseHarnessOutput, writePlan } from '../../runners/harnessProtocol.ts';
import { DEFAULT_HARNESS_PATH } from '../../runners/harnessProtocol.ts';
import { probeHost } from '../../runners/host/probe.ts';
import { loadScenarioFile, loadSpec } from '../../specs/load.ts';
import type { KernelInfo } from '../../types/index.ts';
import { hostSession, probeOf } from '../helpers/hostSession.ts';
import { needs } from '../helpers/needs.ts';
import { leakNew, percpuAllocArray, xchgObjNewIntoPercpu } from './scenarios.ts';

const harness = DEFAULT_HARNESS_PATH;
let work = '';

beforeAll(async () => {
  await execa('bash', [join(import.meta.dirname, '../../scripts/build-harness.sh')]);
  work = await mkdtemp(join(tmpdir(), 'kptr-harness-'));
});

async function runHarness(object: string, plan: string): Promise<{ events: Record<string, unknown>[]; text: string }> {
  const planFile = join(work, `${Math.random().toString(36).slice(2)}.plan`);
  await writeFile(planFile, plan);
  const r = await execa(harness, ['run', object, planFile]);
  return { text: r.stdout, events: r.stdout.split('\n').map((l) => JSON.parse(l) as Record<string, unknown>) };
}

describe('harness run', () => {
  it('should give the same verdicts, errnos and logs when the plan says which programs to log at their first load', async (ctx) => {
    await needs(ctx, 'kernel');
    await needs(ctx, 'clang');
    // every program marked `log`, the accepted ones included: a log at the first load changes no verdict
    const batch = [percpuAllocArray('gx'), leakNew('gl'), xchgObjNewIntoPercpu('gz')];
    const object = await compileBpf(emitBatch(batch).source, work, 'logfirst');
    const all = new Set(batch.flatMap((s) => s.programs.map((p) => p.name)));
    const plain = await runHarness(object, writePlan({ scenarios: batch, runSteps: {} }));
    const logged = await runHarness(object, writePlan({ scenarios: batch, runSteps: {}, expectedRefused: all }));
    // kernel addresses (map values) differ from one load to the next
    const loads = (r: { events: Record<string, unknown>[] }): unknown[] => r.events.filter((e) => e.ev === 'load')
      .map((e) => [e.prog, e.verdict, e.errno ?? null, typeof e.log === 'string' ? e.log.replace(/0x[0-9a-f]{8,}/g, 'ADDR') : null]);
    expect(loads(plain).filter((l) => (l as unknown[])[1] === 'rejected').length).toBeGreaterThan(0);
    expect(loads(logged)).toEqual(loads(plain));
  });

  it('should give each program of one object its own verdict, run only accepted ones, and read globals', async (ctx) => {
    await needs(ctx, 'kernel');
    await needs(ctx, 'clang');
    // fz (ground truth 16) is verified only: it is never named in a run line
    // what this kernel does with a plain object xchg'd into a __percpu_kptr field (known divergence
    // plain_obj_into_percpu), asked of its load-only probe before the harness is checked against it
    const { kernel: host } = await hostSession(loadSpec());
    const plain = probeOf(host, 'plain_obj_into_percpu');
    expect(plain.status, plain.detail).not.toBe('unprobed');
    const batch = [percpuAllocArray('hx'), leakNew('hl'), xchgObjNewIntoPercpu('hz')];
    const object = await compileBpf(emitBatch(batch).source, work, 'verdicts');
    const { events, text } = await runHarness(object, writePlan({ scenarios: batch, runSteps: { hx: [0, 1, 2], hl: [0] } }));

    expect(events[0]).toMatchObject({ ev: 'kernel', nr_cpus: expect.any(Number) });
    expect(events.at(-1)).toEqual({ ev: 'done' });
    const loads = events.filter((e) => e.ev === 'load');
    expect(loads.map((e) => [e.prog, e.verdict])).toEqual([
      ['hx_store', 'accepted'],
      ['hx_update', 'accepted'],
      ['hx_read', 'accepted'],
      ['hl_leak', 'rejected'],
      // accepted where the kernel shows the divergence (the reason it must not run on the host), refused where not
      ['hz_xchg', plain.status === 'shown' ? 'accepted' : 'rejected'],
    ]);
    if (plain.status === 'absent') expect(loads[4]?.log).toContain('invalid kptr access, R2 type=ptr_ expected=ptr_hz_val_t');
    const leak = loads[3] as Record<string, unknown>;
    expect(leak).toMatchObject({ stage: 'verifier', errno: 22, errno_name: 'EINVAL' });
    expect(leak.log).toContain('Unreleased reference id=');
    expect(leak.log).toContain('BPF_EXIT instruction in main prog would lead to reference leak');

    // the rejected program is never executed: a skip event, no run event
    expect(events.filter((e) => e.ev === 'run' && e.prog === 'hl_leak')).toEqual([]);
    expect(events).toContainEqual({ ev: 'skip', scenario: 'hl', prog: 'hl_leak', reason: 'the kernel rejected the program' });
    expect(events.filter((e) => e.ev === 'run' && e.prog === 'hz_xchg')).toEqual([]);

    const kernel: KernelInfo = { release: String(events[0]?.release), version: '', nrCpus: Number(events[0]?.nr_cpus), machine: 'host' };
    const [hx] = parseHarnessOutput(text, batch, 'host', kernel);
    expect(hx?.runs.at(-1)?.globals).toEqual({ hx_cpu0_field_d: '2', hx_sum_field_c: '1' });
    expect(hx?.runs.every((r) => r.err === null && r.retval === 0)).toBe(true);
  });

  it('should skip a run on a CPU that does not exist and repeat a run with one event per iteration', async (ctx) => {
    await needs(ctx, 'kernel');
    await needs(ctx, 'clang');
    const s = percpuAllocArray('hr');
    const object = await compileBpf(emitBatch([s]).source, work, 'repeat');
    const caps = await probeHost();
    const plan = `prog hr_store hr\nrun hr hr_store 0 3\nrun hr hr_store ${caps.kernel?.nrCpus ?? 64} 1\n`;
    const { events } = await runHarness(object, plan);
    expect(events.filter((e) => e.ev === 'run').map((e) => e.iter)).toEqual([0, 1, 2]);
    expect(events.find((e) => e.ev === 'skip')?.reason).toMatch(/^cpu \d+ does not exist \(nr_cpus=\d+\)$/);
  });

  it('should report an object-level failure with libbpf messages and reject every program with that stage', async (ctx) => {
    await needs(ctx, 'kernel');
    await needs(ctx, 'clang');
    const src = join(work, 'extern.bpf.c');
    await writeFile(
      src,
      [
        '#include <linux/bpf.h>',
        '#include <bpf/bpf_helpers.h>',
        'extern void kptr_conform_no_such_kfunc(void) __ksym;',
        'SEC("?tc") int uses_it(void *ctx) { kptr_conform_no_such_kfunc(); return 0; }',
        'SEC("?tc") int plain(void *ctx) { return 0; }',
        'char _license[] SEC("license") = "GPL";',
      ].join('\n'),
    );
    const object = join(work, 'extern.bpf.o');
    await execa(CLANG, bpfClangArgs(src, object, work));
    const { events } = await runHarness(object, 'prog uses_it\nprog plain\nrun x plain 0 1\n');
    const obj = events.find((e) => e.ev === 'object');
    expect(obj).toMatchObject({ ok: false, stage: 'libbpf', errno_name: expect.stringMatching(/^E[A-Z]+$/) });
    expect(obj?.log).toContain("kptr_conform_no_such_kfunc");
    expect(events.filter((e) => e.ev === 'load').map((e) => [e.prog, e.verdict, e.stage])).toEqual([
      ['uses_it', 'rejected', 'libbpf'],
      ['plain', 'rejected', 'libbpf'],
    ]);
    expect(events.find((e) => e.ev === 'skip')?.reason).toBe('the object failed to load');

    // libbpf names the object in its messages: control bytes, quotes and non-ASCII must still give valid JSON lines
    const odd = join(work, 'we\u0001ird\xff"q.bpf.o');
    await copyFile(object, odd);
    const again = await runHarness(odd, 'prog plain\n');
    expect(again.events.find((e) => e.ev === 'object')?.log).toContain('we\u0001ird\u00ff"q.bpf.o');
  });

  it('should fail with one stderr line when the object cannot be read', async (ctx) => {
    await needs(ctx, 'kernel');
    const planFile = join(work, 'empty.plan');
    await writeFile(planFile, '');
    const r = await execa(harness, ['run', join(work, 'missing.o'), planFile], { reject: false });
    expect(r.exitCode).not.toBe(0);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toMatch(/^harness: cannot open object .*missing\.o/);
  });
});

describe('harness probe', () => {
  it('should say tc and syscall work and fentry does not, with the kernel errno as the reason', async (ctx) => {
    await needs(ctx, 'kernel');
    const r = await execa(harness, ['probe']);
    const p = JSON.parse(r.stdout) as { release: string; nr_cpus: number; caps: Record<string, boolean>; prog_types: Record<string, { ok: boolean; reason: string | null }> };
    expect(p.release).toBe((await readFile('/proc/sys/kernel/osrelease', 'utf8')).trim());
    expect(p.caps.bpf).toBe(true);
    expect(p.prog_types.tc).toEqual({ ok: true, reason: null });
    expect(p.prog_types.syscall).toEqual({ ok: true, reason: null });
    // the 6.18 host does not allow tracing programs (ENVIRONMENT.md)
    expect(p.prog_types.fentry?.ok).toBe(false);
    expect(p.prog_types.fentry?.reason).toMatch(/^(load|attach|test_run): E[A-Z]+$/);
    expect(p.prog_types['fentry.s']?.ok).toBe(false);
  });
});

describe('harness run with grace-period steps', () => {
  it('should wait for each grace period between the runs, in plan order, and report how long it took', async (ctx) => {
    await needs(ctx, 'kernel');
    await needs(ctx, 'clang');
    const puc = loadScenarioFile(join(import.meta.dirname, '../../specs/regressions/percpu_obj_new_uncleared.yaml'));
    const object = await compileBpf(emitBatch([puc]).source, work, 'grace');
    const { events, text } = await runHarness(object, writePlan({ scenarios: [puc], runSteps: { puc: [0, 1, 2, 3, 4] } }));
    const order = events.filter((e) => e.ev === 'run' || e.ev === 'grace_period').map((e) => (e.ev === 'run' ? `${String(e.prog)}#${String(e.iter)}` : 'gp'));
    expect(order).toEqual(['puc_dirty#0', 'gp', 'puc_dirty#0', 'gp', 'puc_fresh#0', 'puc_fresh#1']);
    for (const gp of events.filter((e) => e.ev === 'grace_period')) {
      expect(gp).toMatchObject({ scenario: 'puc', err: null });
      // two synchronize_rcu(): never free on an SMP kernel
      expect(gp.ns).toBeGreaterThan(0);
    }
    const kernel: KernelInfo = { release: String(events[0]?.release), version: '', nrCpus: Number(events[0]?.nr_cpus), machine: 'host' };
    const [o] = parseHarnessOutput(text, [puc], 'host', kernel);
    expect(o?.error).toBeNull();
    expect(o?.runs.map((r) => r.step)).toEqual([0, 2, 4, 4]);
  });
});
