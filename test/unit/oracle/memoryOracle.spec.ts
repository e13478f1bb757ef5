import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { loadObject } from '../../../emulator/loader/loadObject.ts';
import { Machine } from '../../../emulator/machine/Machine.ts';
import { scenario } from '../../../generators/scenario.ts';
import { predict } from '../../../oracle/predict.ts';
import { bugSignature } from '../../../reports/bugSignature.ts';
import { compare } from '../../../judge/compare.ts';
import { parseHarnessOutput, writePlan } from '../../../runners/harnessProtocol.ts';
import { hostRefusesScenario } from '../../../runners/host/safety.ts';
import { writeObject } from '../../../compile/object/writeObject.ts';
import { loadSpec } from '../../../specs/load.ts';
import { checkScenarioRefs, parseScenario } from '../../../specs/scenarioSchema.ts';
import type { KernelInfo, MemoryObservation, Observation, Scenario } from '../../../types/index.ts';
import { heldObjects } from '../../vm/memoryScenarios.ts';

const spec = loadSpec();
const kernel: KernelInfo = { release: '6.12.57+deb13-cloud-amd64', version: '6.12.57', nrCpus: 2, machine: 'vm' };
const target = { version: kernel.version, nrCpus: kernel.nrCpus, divergences: [] };

function observed(s: Scenario, memory: MemoryObservation | undefined): Observation {
  return {
    scenarioId: s.id, runner: 'vm', kernel, skipped: null, error: null,
    programs: s.programs.map((p) => ({ program: p.name, verdict: 'accepted', loadNs: 1 })),
    runs: [{ step: 0, iteration: 0, program: s.programs[0]!.name, cpu: 0, err: null, retval: 1, globals: {}, runNs: 1 }],
    mapOps: [], notRun: [], splats: [],
    ...(memory === undefined ? {} : { memory }),
  };
}

const memory = (before: number, after: number): MemoryObservation => ({ passes: 40, percpuKbBefore: before, percpuKbAfter: after, percpuKb: [before, after] });

describe('free_maps steps', () => {
  it('should be read from a scenario file and be allowed only last, with every slot in a map', () => {
    const s = heldObjects('fm', 1);
    expect(parseScenario(JSON.parse(JSON.stringify(s)), 'fm.yaml').schedule.at(-1)).toEqual({ free_maps: true });
    expect(() => parseScenario({ ...s, schedule: [{ free_maps: 1 }] }, 'fm.yaml')).toThrow(/free_maps/);
    expect(checkScenarioRefs(s)).toEqual([]);
    expect(checkScenarioRefs({ ...s, schedule: [{ free_maps: true }, ...s.schedule.slice(0, 1)] })).toEqual(['schedule[0]: free_maps must be the last step']);
    const global = { ...s, slots: s.slots.map((x) => ({ ...x, home: { kind: 'global', section: 'bss' } as const })) };
    expect(checkScenarioRefs(global)).toContain('schedule[1]: free_maps needs every slot kept in a map (a global slot lives as long as the shared object)');
  });

  it('should be among what the prediction says the scenario exercises, with the homes of its slots, each once', () => {
    const s = heldObjects('fm', 2);
    const homes = [...new Set(s.slots.map((x) => (x.home.kind === 'map' ? `home map ${x.home.mapType}` : 'global')))];
    expect(predict(s, target, spec).exercises).toEqual([...homes, 'step free_maps', 'step run'].sort());
    const gp = { ...s, schedule: [{ grace_period: true } as const, ...s.schedule] };
    expect(predict(gp, target, spec).exercises).toContain('step grace_period');
  });

  it('should be a plan line naming the slot maps, or none for the positive control', () => {
    const s = heldObjects('fm', 2);
    const runSteps = { fm: [0, 1] };
    expect(writePlan({ scenarios: [s], runSteps }).split('\n')).toContain('free_maps fm fm_m0 fm_m1');
    expect(writePlan({ scenarios: [s], runSteps, keepMaps: new Set(['fm']) }).split('\n')).toContain('free_maps fm');
  });

  it('should keep scenarios that free maps off the host', () => {
    expect(hostRefusesScenario(heldObjects('fm', 1))).toMatch(/VM only/);
    expect(hostRefusesScenario({ ...heldObjects('fm', 1), schedule: [{ program: 'fm_put', cpu: 0, repeat: 1 }] })).toBeNull();
  });

  it('should be generated only when asked, last, and only where every slot lives in a map (local storage maps too)', () => {
    const samples = fc.sample(scenario({ mode: 'valid', freeMapsFreq: 1 }), { seed: 14, numRuns: 60 });
    const inMaps = samples.filter((s) => s.slots.every((x) => x.home.kind !== 'global'));
    expect(inMaps.length).toBeGreaterThan(0);
    for (const s of samples) {
      expect(s.schedule.at(-1)).toEqual(inMaps.includes(s) ? { free_maps: true } : expect.not.objectContaining({ free_maps: true }));
      expect(checkScenarioRefs(s)).toEqual([]);
    }
    expect(fc.sample(scenario({ mode: 'valid' }), { seed: 14, numRuns: 60 }).some((s) => s.schedule.some((x) => 'free_maps' in x))).toBe(false);
  });

  it('should release every object the freed maps hold on the emulator', () => {
    const s = heldObjects('fm', 3);
    const m = Machine.load(loadObject(writeObject([s]), { rodata: { nr_cpus: 2 } }), { nrCpus: 2 });
    expect(m.run('fm_put', 0)).toMatchObject({ outcome: 'exit', retval: 1 });
    expect(m.liveObjects()).toBe(3);
    expect(m.freeMaps(['fm_m0', 'fm_m1'])).toEqual([]);
    expect(m.liveObjects()).toBe(1);
    expect(() => m.freeMaps(['fm_nope'])).toThrow(RangeError);
  });
});

describe('the memory oracle', () => {
  it('should predict a return to baseline, with the bytes a pass allocates and holds, only where the maps are freed', () => {
    const s = heldObjects('mo', 8);
    expect(predict(s, target, spec).memory).toEqual({ allocatedBytes: 8 * 512 * 2, heldAtFreeBytes: 8 * 512 * 2, slackKb: 64 });
    expect(predict({ ...s, schedule: s.schedule.slice(0, 1) }, target, spec).memory).toBeNull();
    // the second run drops what the first put: it allocated twice as much, and the maps hold the same
    const twice = { ...s, schedule: [{ program: 'mo_put', cpu: 0, repeat: 2 }, { free_maps: true } as const] };
    expect(predict(twice, target, spec).memory).toMatchObject({ allocatedBytes: 2 * 8 * 512 * 2, heldAtFreeBytes: 8 * 512 * 2 });
  });

  it('should call growth beyond the slack a leak, and nothing else', () => {
    const s = heldObjects('mo', 8);
    const p = predict(s, target, spec);
    expect(compare(p, observed(s, memory(1000, 1064))).status).toBe('pass');
    expect(compare(p, observed(s, undefined)).status).toBe('pass');
    // a kernel that cannot say (no Percpu: line) is not judged
    expect(compare(p, observed(s, memory(-1, -1))).status).toBe('pass');
    const leaked = compare(p, observed(s, memory(1000, 1320)));
    expect(leaked.status).toBe('fail');
    expect(leaked.mismatches).toEqual([expect.objectContaining({
      kind: 'leak',
      expected: 'Percpu back within 64 kB of its baseline after 40 passes (maps freed, grace periods waited)',
      observed: 'Percpu grew by 320 kB (1000 -> 1320 kB): about 8192 bytes a pass',
    })]);
    expect(bugSignature(p, observed(s, memory(1000, 1320)))).toBe('leak[valid]: percpu memory not returned @ 6.12.57+deb13-cloud-amd64');
    // without free_maps nothing is predicted, so growth says nothing
    const kept = { ...s, schedule: s.schedule.slice(0, 1) };
    expect(compare(predict(kept, target, spec), observed(kept, memory(1000, 1320))).status).toBe('pass');
  });

  it('should read the harness memory event and a failed free_maps', () => {
    const s = heldObjects('mo', 1);
    const lines = [
      '{"ev":"kernel","release":"6.12.57","nr_cpus":2}',
      '{"ev":"load","prog":"mo_put","verdict":"accepted","ns":5}',
      '{"ev":"run","scenario":"mo","prog":"mo_put","cpu":0,"iter":0,"err":null,"retval":1,"ns":3,"globals":{}}',
      '{"ev":"free_maps","scenario":"mo","err":null,"ns":2}',
      '{"ev":"memory","iterations":40,"percpu_kb_before":1000,"percpu_kb_after":1008,"percpu_kb":[1000,1004]}',
      '{"ev":"done"}',
    ];
    const [o] = parseHarnessOutput(lines.join('\n'), [s], 'vm', kernel);
    expect(o?.error).toBeNull();
    expect(o?.memory).toEqual({ passes: 40, percpuKbBefore: 1000, percpuKbAfter: 1008, percpuKb: [1000, 1004] });
    const failed = lines.map((l) => l.replace('"ev":"free_maps","scenario":"mo","err":null', '"ev":"free_maps","scenario":"mo","err":"EBADF"'));
    expect(parseHarnessOutput(failed.join('\n'), [s], 'vm', kernel)[0]?.error?.code).toBe('KPTR_FREE_MAPS_FAILED');
    // passes of a unit of two scenarios say nothing about either
    const two = parseHarnessOutput(lines.join('\n'), [s, heldObjects('mo2', 1)], 'vm', kernel);
    expect(two.map((x) => x.memory)).toEqual([undefined, undefined]);
  });
});
