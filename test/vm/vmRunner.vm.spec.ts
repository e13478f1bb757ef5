import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { probeDivergences } from '../../cli/divergenceProbes.ts';
import type { Observation, ProgType, RunPlan, Scenario } from '../../types/index.ts';
import type { RunCase } from '../../runners/runner.ts';
import { createVmRunner, type VmBootStats } from '../../runners/vm/index.ts';
import { loadScenarioFile, loadSpec } from '../../specs/load.ts';
import { needsKernelImage, type SkippableContext } from '../helpers/needs.ts';
import { percpuAllocArray } from '../kernel/scenarios.ts';

const KERNEL = '6.12';

const needsKernel = (ctx: SkippableContext): Promise<void> => needsKernelImage(ctx, KERNEL);

/** bpf_percpu_obj_drop of a pointer that may be NULL: every kernel with per-CPU kptrs refuses it. */
function dropWithoutNullCheck(id: string): Scenario {
  const val = `${id}_val_t`;
  return {
    id,
    description: 'drop without NULL check',
    origin: null,
    intent: { kind: 'break', rule: 'percpu_obj_drop.maybe_null' },
    structs: [{ name: val, members: [{ kind: 'scalar', name: 'c', ctype: '__u64', count: null }] }],
    slots: [],
    globals: [],
    programs: [{
      name: `${id}_p`,
      progType: 'tc',
      license: 'GPL',
      vars: [{ name: 'p', type: { kind: 'percpu', struct: val } }],
      ops: [{ op: 'new', dst: 'p', struct: val, percpu: true }, { op: 'drop', var: 'p', percpu: true }],
    }],
    schedule: [{ program: `${id}_p`, cpu: 0, repeat: 1 }],
  };
}

function runCase(scenario: Scenario, plan: Partial<RunPlan> = {}): RunCase {
  return {
    scenario,
    plan: {
      scenarioId: scenario.id,
      expectedAccepted: scenario.programs.map((p) => p.name),
      wellFormed: true,
      execute: true,
      expectSplat: false,
      corruptsKernel: false,
      ...plan,
    },
  };
}

function lastGlobals(o: Observation): Readonly<Record<string, string>> {
  return o.runs.at(-1)?.globals ?? {};
}

describe('createVmRunner', () => {
  it.for(['clang', 'direct'] as const)('should verify and execute tc, fentry and fentry.s scenarios in one guest (%s objects)', async (codegen, ctx) => {
    await needsKernel(ctx);
    const boots: VmBootStats[] = [];
    const runner = createVmRunner({
      kernel: KERNEL,
      workDir: await mkdtemp(join(tmpdir(), 'kptr-vm-')),
      codegen,
      onBoot: (s) => boots.push(s),
    });
    const cases = [
      runCase(percpuAllocArray('vm_fe', 'fentry')),
      runCase(percpuAllocArray('vm_fes', 'fentry.s')),
      // the host would not execute a scenario the oracle calls ill-formed; a guest does
      runCase(percpuAllocArray('vm_tc', 'tc'), { wellFormed: false }),
      runCase(dropWithoutNullCheck('vm_rej'), { expectedAccepted: [] }),
    ];
    const started = Date.now();
    const [fe, fes, tc, rej] = await runner.run(cases);
    console.log(`vm batch of ${cases.length}: ${Date.now() - started} ms wall`, boots);

    for (const [o, id] of [[fe, 'vm_fe'], [fes, 'vm_fes'], [tc, 'vm_tc']] as const) {
      expect(o?.error).toBeNull();
      expect(o?.kernel).toMatchObject({ release: expect.stringMatching(/^6\.12\./), machine: 'vm', nrCpus: 2 });
      expect(o?.programs.map((p) => p.verdict)).toEqual(['accepted', 'accepted', 'accepted']);
      expect(o?.runs.map((r) => [r.step, r.err])).toEqual([[0, null], [1, null], [2, null]]);
      expect(lastGlobals(o as Observation)).toEqual({ [`${id}_cpu0_field_d`]: '2', [`${id}_sum_field_c`]: '1' });
      expect(o?.splats).toEqual([]);
    }
    expect(rej?.error).toBeNull();
    expect(rej?.programs[0]).toMatchObject({ verdict: 'rejected', stage: 'verifier', errnoName: 'EACCES' });
    expect(rej?.programs[0]?.verdict === 'rejected' && rej.programs[0].log).toContain('Possibly NULL pointer passed to trusted arg0');
    expect(rej?.runs).toEqual([]);
    expect(boots).toHaveLength(1);
  });

  it('should split objects over guests booted side by side and return every observation in case order', async (ctx) => {
    await needsKernel(ctx);
    const boots: VmBootStats[] = [];
    // one scenario per object: three objects over two lanes (two guests at once)
    const runner = createVmRunner({ kernel: KERNEL, workDir: await mkdtemp(join(tmpdir(), 'kptr-vm-')), maxPerBatch: 1, lanes: 2, onBoot: (s) => boots.push(s) });
    const ids = ['vm_l0', 'vm_l1', 'vm_l2'];
    const seen: string[] = [];
    const observations = await runner.run(ids.map((id, i) => runCase(percpuAllocArray(id, i === 1 ? 'fentry' : 'tc'))), { onObservation: (o) => seen.push(o.scenarioId) });
    expect(observations.map((o) => o.scenarioId)).toEqual(ids);
    for (const [i, o] of observations.entries()) {
      expect(o.error).toBeNull();
      expect(lastGlobals(o)).toEqual({ [`${ids[i]}_cpu0_field_d`]: '2', [`${ids[i]}_sum_field_c`]: '1' });
    }
    expect(seen.sort()).toEqual(ids);
    // the lighter lane took the third object: two boots, one with two cases and one with one
    expect(boots.map((b) => [b.cases, b.decided]).sort()).toEqual([[1, 1], [2, 2]]);
  });

  it('should attribute a guest panic to its case and run the next case after a reboot', async (ctx) => {
    await needsKernel(ctx);
    const boots: VmBootStats[] = [];
    const runner = createVmRunner({
      kernel: KERNEL,
      workDir: await mkdtemp(join(tmpdir(), 'kptr-vm-')),
      guestHooks: { vm_boom: 'panic' },
      onBoot: (s) => boots.push(s),
    });
    const seen: string[] = [];
    const [before, boom, after] = await runner.run(
      [runCase(percpuAllocArray('vm_before', 'tc')), runCase(percpuAllocArray('vm_boom', 'tc')), runCase(percpuAllocArray('vm_after', 'fentry'))],
      { onObservation: (o) => seen.push(o.scenarioId) },
    );
    console.log('panic recovery', boots);

    expect(before?.error).toBeNull();
    expect(before?.splats).toEqual([]);
    expect(boom?.error?.code).toBe('KPTR_VM_PANIC');
    expect(boom?.splats.map((s) => s.kind)).toEqual(['panic']);
    expect(boom?.splats[0]?.text).toContain('sysrq triggered crash');
    expect(after?.error).toBeNull();
    expect(after?.splats).toEqual([]);
    expect(lastGlobals(after as Observation)).toEqual({ vm_after_cpu0_field_d: '2', vm_after_sum_field_c: '1' });
    expect(boots.map((b) => [b.cases, b.decided])).toEqual([[3, 2], [1, 1]]);
    expect(seen).toEqual(['vm_before', 'vm_boom', 'vm_after']);
  });

  it('should kill a hung guest after the case timeout and go on with the rest', async (ctx) => {
    await needsKernel(ctx);
    const runner = createVmRunner({
      kernel: KERNEL,
      workDir: await mkdtemp(join(tmpdir(), 'kptr-vm-')),
      guestHooks: { vm_stuck: 'hang' },
      caseTimeoutMs: 8_000,
    });
    const [stuck, next] = await runner.run([runCase(percpuAllocArray('vm_stuck', 'tc')), runCase(percpuAllocArray('vm_next', 'syscall'))]);

    expect(stuck?.error?.code).toBe('KPTR_VM_TIMEOUT');
    expect(stuck?.splats.map((s) => s.kind)).toEqual(['hang']);
    expect(next?.error).toBeNull();
    expect(lastGlobals(next as Observation)).toEqual({ vm_next_cpu0_field_d: '2', vm_next_sum_field_c: '1' });
  });

  it('should call a guest dead when it goes silent after a BUG line, long before the case timeout', async (ctx) => {
    await needsKernel(ctx);
    const boots: VmBootStats[] = [];
    const caseTimeoutMs = 90_000;
    const runner = createVmRunner({
      kernel: KERNEL,
      workDir: await mkdtemp(join(tmpdir(), 'kptr-vm-')),
      guestHooks: { vm_stalled: 'bug-hang' },
      caseTimeoutMs,
      onBoot: (s) => boots.push(s),
    });
    const [stalled, next] = await runner.run([runCase(percpuAllocArray('vm_stalled', 'tc')), runCase(percpuAllocArray('vm_after_bug', 'syscall'))]);

    expect(stalled?.error?.code).toBe('KPTR_VM_TIMEOUT');
    expect(stalled?.splats.map((s) => s.kind)).toContain('bug');
    expect(next?.error).toBeNull();
    expect(lastGlobals(next as Observation)).toEqual({ vm_after_bug_cpu0_field_d: '2', vm_after_bug_sum_field_c: '1' });
    // killed by the silence-after-a-fatal-line rule (10 s), not by the case timeout
    expect(boots[0]!.wallMs).toBeLessThan(caseTimeoutMs);
  });

  it('should charge a real kernel Oops inside a shared harness run to its scenario, and finish the others', async (ctx) => {
    await needsKernel(ctx);
    // The per_cpu_ptr bug (specs/regressions): where the guest kernel shows it (its load-only probe, asked first) the
    // store through the unchecked result oopses and panics the guest ("Fatal exception in interrupt"). All three
    // scenarios share one object, so one harness run: only the harness's kmsg markers can say which scenario the
    // panic belongs to. A kernel without the bug refuses the store, and the three finish in one boot.
    const oob = loadScenarioFile(fileURLToPath(new URL('../../specs/regressions/per_cpu_ptr_oob_unchecked.yaml', import.meta.url)));
    const prober = createVmRunner({ kernel: KERNEL, workDir: await mkdtemp(join(tmpdir(), 'kptr-vm-probe-')) });
    const caps = await prober.probe();
    const available = Object.fromEntries(Object.entries(caps.progTypes).map(([t, r]) => [t, r.ok])) as Record<ProgType, boolean>;
    const probes = await probeDivergences({ runner: prober, kernel: caps.kernel!, available, spec: loadSpec() });
    const shows = probes.find((p) => p.divergenceId === 'per_cpu_ptr_result_not_maybe_null')?.status === 'shown';
    const boots: VmBootStats[] = [];
    const runner = createVmRunner({ kernel: KERNEL, workDir: await mkdtemp(join(tmpdir(), 'kptr-vm-')), onBoot: (s) => boots.push(s) });
    const [first, bad, last] = await runner.run([runCase(percpuAllocArray('vm_first', 'tc')), runCase(oob), runCase(percpuAllocArray('vm_last', 'syscall'))]);

    if (shows) {
      expect(bad?.error?.code).toBe('KPTR_VM_PANIC');
      expect(bad?.splats.map((s) => s.kind)).toContain('oops');
      expect(bad?.splats.map((s) => s.text).join('\n')).toMatch(/RIP: 0010:bpf_prog_\w+_pcpu_oob_p0/);
    } else {
      expect(bad?.error).toBeNull();
      expect(bad?.programs.find((p) => p.program === 'pcpu_oob_p0')?.verdict).toBe('rejected');
      expect(bad?.splats).toEqual([]);
    }
    for (const [o, id] of [[first, 'vm_first'], [last, 'vm_last']] as const) {
      expect(o?.error).toBeNull();
      expect(o?.splats).toEqual([]);
      expect(lastGlobals(o as Observation)).toEqual({ [`${id}_cpu0_field_d`]: '2', [`${id}_sum_field_c`]: '1' });
    }
    // one unit for all three, then (after a panic) the scenarios it cut short, again in one unit
    expect(boots[0]?.cases).toBe(3);
    expect(boots.at(-1)?.decided).toBeGreaterThan(0);
    expect(boots.reduce((n, b) => n + b.decided, 0)).toBe(3);
    if (!shows) expect(boots).toHaveLength(1);
  });
});
