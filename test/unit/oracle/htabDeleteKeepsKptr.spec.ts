/**
 * Divergence htab_delete_keeps_percpu_kptr as a model: the oracle reports the userspace map operation that removed or
 * overwrote a hash element holding an object (a DivergenceHit with its step) on kernels in the divergence's range,
 * compare() explains value and map-operation mismatches at or after that step by it and nothing before, and the
 * emulator's 7.3 profile reproduces the kernel's behaviour on the regression scenarios (hdk, hdka).
 */
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { predict } from '../../../oracle/predict.ts';
import { compare } from '../../../judge/compare.ts';
import { batchObserver } from '../../../runners/emulator/index.ts';
import { loadScenarioFile, loadSpec } from '../../../specs/load.ts';
import type { KernelTarget, Observation, Prediction, Scenario } from '../../../types/index.ts';

const spec = loadSpec();
const ID = 'htab_delete_keeps_percpu_kptr';
const regression = (file: string): Scenario => loadScenarioFile(fileURLToPath(new URL(`../../../specs/regressions/${file}`, import.meta.url)));
const hdk = regression('htab_delete_keeps_percpu_kptr.yaml');
const hdka = regression('htab_delete_keeps_percpu_kptr_alive.yaml');
const kernel = (version: string): KernelTarget => ({ version, nrCpus: 2, divergences: [] });
const on73 = kernel('7.3.4');

/** what a kernel that keeps the contract observes: the prediction itself, as a runner reports it */
function asObserved(p: Prediction, retvals: Readonly<Record<number, number>> = {}): Observation {
  return {
    scenarioId: p.scenarioId, runner: 'vm', kernel: { release: p.kernelVersion, version: p.kernelVersion, nrCpus: p.nrCpus, machine: 'vm' },
    skipped: null, error: null, programs: p.programs.map((x) => ({ program: x.program, verdict: 'accepted' as const, loadNs: 0 })),
    runs: p.steps.map((s) => ({ step: s.step, iteration: s.iteration, program: s.program, cpu: 0, retval: retvals[s.step] ?? s.retval, err: null, runNs: 0, globals: Object.fromEntries(Object.entries(s.globals).map(([k, v]) => [k, v ?? '0'])) })),
    mapOps: p.mapOps, notRun: [], splats: [],
  };
}

async function emulated(kernelProfile: '6.18' | '7.3', s: Scenario): Promise<Observation> {
  const [o] = await batchObserver({ kernel: kernelProfile, workDir: await mkdtemp(join(tmpdir(), 'kptr-hdk-')) })([s], new Map());
  return o!;
}

describe('htab_delete_keeps_percpu_kptr in the oracle', () => {
  it('should report the first userspace removal of an element holding an object, on kernels in range only', () => {
    const hits = (version: string) => predict(hdk, kernel(version), spec).divergences.filter((d) => d.divergenceId === ID);
    expect(hits('7.3.4')).toEqual([{ program: null, step: 1, divergenceId: ID, hostUnsafe: false, splat: false, kind: 'value' }]);
    for (const v of ['6.12.117', '6.18.15', '6.18.44']) expect(hits(v), v).toEqual([]);
  });

  it('should explain the re-added element\'s field after the removal on 7.3, and fail it where the contract holds', () => {
    const bug = { 3: 2, 7: 2, 11: 2 };
    const r = compare(predict(hdk, on73, spec), asObserved(predict(hdk, on73, spec), bug));
    expect([r.status, r.divergences, r.mismatches.map((m) => m.step)]).toEqual(['divergence', [ID], [3, 7, 11]]);
    const on618 = predict(hdk, kernel('6.18.15'), spec);
    expect(compare(on618, asObserved(on618, bug)).status).toBe('fail');
    expect(compare(on618, asObserved(on618)).status).toBe('pass');
  });

  it('should not explain a mismatch before the removal', () => {
    const p = predict(hdk, on73, spec);
    const r = compare(p, asObserved(p, { 0: 9, 3: 2 }));
    expect(r.status).toBe('fail');
    expect(r.mismatches.map((m) => m.step)).toEqual([0, 3]);
  });

  it('should start it at a userspace update only where the divergence names one (percpu_hash, not hash)', () => {
    const overwrite = (mapType: 'hash' | 'percpu_hash'): Scenario => ({
      ...hdk,
      slots: hdk.slots.map((s) => ({ ...s, home: { kind: 'map' as const, mapType } })),
      schedule: [hdk.schedule[0]!, { mapOp: 'update', slot: 'hdk_m', key: 0, flags: 'BPF_EXIST', sum: '5' }, hdk.schedule[3]!],
    });
    const steps = (s: Scenario) => predict(s, on73, spec).divergences.filter((d) => d.divergenceId === ID).map((d) => d.step);
    expect(steps(overwrite('percpu_hash'))).toEqual([1]);
    expect(steps(overwrite('hash'))).toEqual([]);
    // a removal of an element that holds nothing releases nothing
    expect(steps({ ...hdk, schedule: hdk.schedule.slice(1, 4) })).toEqual([]);
  });
});

describe('htab_delete_keeps_percpu_kptr in the emulator (profile feature htab_delete_keeps_percpu_kptr)', () => {
  it('should hand the object to the re-added element on 7.3 (a divergence the model explains) and not on 6.18', async () => {
    const seven = await emulated('7.3', hdk);
    expect(seven.runs.filter((r) => r.program === 'hdk_check').map((r) => r.retval)).toEqual([2, 2, 2]);
    expect(compare(predict(hdk, on73, spec), seven)).toMatchObject({ status: 'divergence', divergences: [ID] });
    const six = await emulated('6.18', hdk);
    expect(six.runs.filter((r) => r.program === 'hdk_check').map((r) => r.retval)).toEqual([1, 1, 1]);
    expect(compare(predict(hdk, kernel('6.18.15'), spec), six).status).toBe('pass');
  });

  it('should keep the old object alive, not reuse its memory (hdka reads the 7 written before the delete)', async () => {
    const read = (o: Observation) => o.runs.find((r) => r.program === 'hdka_read');
    expect(read(await emulated('7.3', hdka))).toMatchObject({ retval: 2, globals: { hdka_seen: '7' } });
    expect(read(await emulated('6.18', hdka))).toMatchObject({ retval: 1, globals: { hdka_seen: '0' } });
  });
});

describe('htab_delete_keeps_percpu_kptr on LRU maps (hdkl, hdklp: hdk\'s schedule plus a lookup_and_delete)', () => {
  for (const [file, id] of [['htab_delete_keeps_percpu_kptr_lru.yaml', 'hdkl'], ['htab_delete_keeps_percpu_kptr_lru_percpu.yaml', 'hdklp']] as const) {
    it(`should explain what 7.3.4 does after each removal (${id}), and fail it on 6.18, where the emulator keeps the contract too`, async () => {
      const s = regression(file);
      const checks = (o: Observation) => o.runs.filter((r) => r.program === `${id}_check`).map((r) => `${r.step}:${r.retval}`);
      expect(predict(s, on73, spec).divergences.filter((d) => d.divergenceId === ID).map((d) => d.step)).toEqual([1]);
      // measured on 7.3.4 (specs/divergences/htab_delete_keeps_percpu_kptr.yaml): 2 after all four removals
      const seven = await emulated('7.3', s);
      expect(checks(seven)).toEqual(['3:2', '7:2', '11:2', '15:2']);
      expect(compare(predict(s, on73, spec), seven)).toMatchObject({ status: 'divergence', divergences: [ID] });
      const six = await emulated('6.18', s);
      expect(checks(six)).toEqual(['3:1', '7:1', '11:1', '15:1']);
      expect(compare(predict(s, kernel('6.18.15'), spec), six).status).toBe('pass');
      expect(compare(predict(s, kernel('6.18.15'), spec), seven).status).toBe('fail');
    });
  }
});

describe('lru_evict_keeps_percpu_kptr in the emulator (the same profile feature)', () => {
  const lev = regression('lru_evict_keeps_percpu_kptr.yaml');
  it('should hand an evicted element\'s object to the element that takes its node on 7.3, as 7.3.4 does, and not on 6.18', async () => {
    const checks = (o: Observation) => o.runs.filter((r) => r.program === 'lev_check').map((r) => `${r.step}:${r.retval}`);
    const seven = await emulated('7.3', lev);
    // measured on 7.3.4 (specs/divergences/lru_evict_keeps_percpu_kptr.yaml): 2 (field set) at steps 5, 8, 14, 16, 19
    expect(checks(seven)).toEqual(['1:2', '5:2', '8:2', '14:2', '16:2', '19:2']);
    expect(compare(predict(lev, on73, spec), seven)).toMatchObject({ status: 'divergence', divergences: ['lru_evict_keeps_percpu_kptr'] });
    const six = await emulated('6.18', lev);
    expect(checks(six)).toEqual(['1:2', '5:1', '8:1', '14:1', '16:1', '19:1']);
    expect(compare(predict(lev, kernel('6.18.15'), spec), six).status).toBe('pass');
  });
});
