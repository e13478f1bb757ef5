import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { beforeAll, describe, expect, it } from 'vitest';
import { createHostRunner } from '../../runners/host/index.ts';
import type { RunCase } from '../../runners/runner.ts';
import type { Program, Scenario } from '../../types/index.ts';
import { needs } from '../helpers/needs.ts';
import { leakNew, mapOpsScenario, percpuAllocArray, xchgObjNewIntoPercpu } from './scenarios.ts';

let work = '';
beforeAll(async () => {
  await execa('bash', [join(import.meta.dirname, '../../scripts/build-harness.sh')]);
  work = await mkdtemp(join(tmpdir(), 'kptr-host-'));
});

/** A case whose plan vouches for every program: only the kernel and the host gate can stop execution. */
const trusted = (scenario: Scenario): RunCase => ({
  scenario,
  plan: { scenarioId: scenario.id, expectedAccepted: scenario.programs.map((p) => p.name), wellFormed: true, execute: true, expectSplat: false, corruptsKernel: false },
});

describe('host runner', () => {
  it('should verify and run a percpu_alloc_array sequence and never run a rejected program', async (ctx) => {
    await needs(ctx, 'kernel');
    await needs(ctx, 'clang');
    const seen: string[] = [];
    const runner = createHostRunner({ workDir: work });
    const [arr, leak] = await runner.run([trusted(percpuAllocArray('ra')), trusted(leakNew('rl'))], {
      onObservation: (o) => seen.push(o.scenarioId),
    });
    expect(seen.sort()).toEqual(['ra', 'rl']);
    expect(arr?.error).toBeNull();
    expect(arr?.programs.map((p) => p.verdict)).toEqual(['accepted', 'accepted', 'accepted']);
    expect(arr?.runs.map((r) => r.step)).toEqual([0, 1, 2]);
    expect(arr?.runs.at(-1)?.globals).toEqual({ ra_cpu0_field_d: '2', ra_sum_field_c: '1' });
    expect(arr?.kernel.machine).toBe('host');

    const p = leak?.programs[0];
    expect(p?.verdict).toBe('rejected');
    if (p?.verdict === 'rejected') {
      expect(p.errnoName).toBe('EINVAL');
      expect(p.summary).toMatch(/^load rl_leak \(tc\): EINVAL: BPF_EXIT instruction in main prog would lead to reference leak/);
    }
    expect(leak?.runs).toEqual([]);
    expect(leak?.notRun.map((n) => n.program)).toContain('rl_leak');
  });

  it('should verify the case-16 pattern on the host but not execute it', async (ctx) => {
    await needs(ctx, 'kernel');
    await needs(ctx, 'clang');
    const runner = createHostRunner({ workDir: work });
    const [o] = await runner.run([trusted(xchgObjNewIntoPercpu('rz'))]);
    expect(o?.error).toBeNull();
    expect(o?.programs).toHaveLength(1);
    expect(o?.programs[0]?.program).toBe('rz_xchg');
    expect(o?.runs).toEqual([]);
    expect(o?.notRun).toEqual([{ program: 'rz_xchg', reason: expect.stringMatching(/bpf_obj_new .*never run on the host/) }]);
    expect(o?.splats).toEqual([]);
  });

  it('should say why each program after a held-back userspace map operation did not run', async (ctx) => {
    await needs(ctx, 'kernel');
    await needs(ctx, 'clang');
    // a bpf_obj_new program never runs on the host, so the map operations after it are held back, and with them
    // every later run (the schedule without them is another one): each such program is in notRun with the reason
    const s = mapOpsScenario('hh', 'hash');
    const t = s.structs[0]!.name;
    const plain: Program = { name: 'hh_plain', progType: 'tc', license: 'GPL', vars: [{ name: 'v', type: { kind: 'plain', struct: t } }], ops: [
      { op: 'new', dst: 'v', struct: t, percpu: false }, { op: 'if', var: 'v', is: 'nonnull', then: [{ op: 'drop', var: 'v', percpu: false }] },
    ] };
    const put = s.programs[0]!.name;
    const check = s.programs[1]!.name;
    const scenario: Scenario = { ...s, programs: [...s.programs, plain], schedule: [
      { program: 'hh_plain', cpu: 0, repeat: 1 }, { program: put, cpu: 0, repeat: 1 },
      { mapOp: 'delete', slot: 'hh_m', key: 0 }, { program: put, cpu: 0, repeat: 1 }, { program: check, cpu: 0, repeat: 1 },
    ] };
    const [o] = await createHostRunner({ workDir: work }).run([trusted(scenario)]);
    expect(o?.runs.map((r) => `${r.step}:${r.program}`)).toEqual([`1:${put}`]);
    expect(o?.mapOps).toEqual([]);
    expect(o?.notRun.map((n) => n.program).sort()).toEqual(['(userspace map operations)', check, 'hh_plain', put].sort());
    expect(o?.notRun.find((n) => n.program === check)?.reason).toBe(`${check}: its runs after step 2 (a userspace map operation held back) are held back too`);
  });

  it('should skip scenarios whose program type the kernel cannot load, with the reason, and load them where it can', async (ctx) => {
    await needs(ctx, 'kernel');
    const runner = createHostRunner({ workDir: work });
    const caps = await runner.probe();
    const s = percpuAllocArray('rf');
    const fentry: Scenario = { ...s, programs: s.programs.map((p) => ({ ...p, progType: 'fentry' })) };
    const [o] = await runner.run([trusted(fentry)]);
    // the probe decides which: a kernel that lets root attach fentry programs loads them like any other
    if (caps.progTypes.fentry.ok) {
      expect(o?.skipped).toBeNull();
      expect(o?.programs.map((p) => p.program).sort()).toEqual(fentry.programs.map((p) => p.name).sort());
    } else {
      expect(o?.skipped).toBe(`fentry programs cannot be loaded on this kernel: ${caps.progTypes.fentry.reason}`);
      expect(o?.programs).toEqual([]);
    }
  });
});
