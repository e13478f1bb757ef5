/**
 * Userspace map operations with BPF_F_LOCK (specs/ops/map/update.yaml, lookup.yaml and the batch forms) on a value
 * that holds a struct bpf_spin_lock next to its __percpu_kptr field: the oracle's contract (the old object released,
 * the lock word read as zero, EINVAL without a spin lock), divergence htab_lock_update_keeps_percpu_kptr (a hash
 * element updated in place keeps its object), and the emulator, which copies in place as the kernel does.
 */
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { predict } from '../../../oracle/predict.ts';
import { compare } from '../../../judge/compare.ts';
import { batchObserver } from '../../../runners/emulator/index.ts';
import { mapOpPlanArgs } from '../../../runners/harnessProtocol.ts';
import { parseScenario } from '../../../specs/scenarioSchema.ts';
import { checkScenarioRefs } from '../../../specs/checkScenarioRefs.ts';
import { loadScenarioFile, loadSpec } from '../../../specs/load.ts';
import type { KernelTarget, Observation, Prediction, Scenario } from '../../../types/index.ts';
import { lockedLookupAndDelete } from '../../kernel/scenarios.ts';

const spec = loadSpec();
const ID = 'htab_lock_update_keeps_percpu_kptr';
const hlu = loadScenarioFile(fileURLToPath(new URL('../../../specs/regressions/htab_lock_update_keeps_percpu_kptr.yaml', import.meta.url)));
const kernel = (version: string): KernelTarget => ({ version, nrCpus: 2, divergences: [] });
/** the hash checks run after each BPF_F_LOCK update of key 0 */
const HASH_CHECKS = [3, 6, 10];

/** what a kernel observes where its runs return `retvals` (by step) and everything else is as predicted */
function asObserved(p: Prediction, retvals: Readonly<Record<number, number>> = {}): Observation {
  return {
    scenarioId: p.scenarioId, runner: 'vm', kernel: { release: p.kernelVersion, version: p.kernelVersion, nrCpus: p.nrCpus, machine: 'vm' },
    skipped: null, error: null, programs: p.programs.map((x) => ({ program: x.program, verdict: 'accepted' as const, loadNs: 0 })),
    runs: p.steps.map((s) => ({ step: s.step, iteration: s.iteration, program: s.program, cpu: 0, retval: retvals[s.step] ?? s.retval, err: null, runNs: 0, globals: {} })),
    mapOps: p.mapOps, notRun: [], splats: [],
  };
}

describe('scenario model: a spin lock in the slot value, lock on map operations', () => {
  it('should admit spinLock on array and hash homes and refuse it on map types whose value cannot hold a lock', () => {
    const withHome = (mapType: string): Scenario => parseScenario(JSON.parse(JSON.stringify({ ...hlu, slots: [{ ...hlu.slots[0], home: { kind: 'map', mapType, spinLock: true } }], programs: [], schedule: [] })), 'test');
    expect(checkScenarioRefs(withHome('hash'))).toEqual([]);
    expect(checkScenarioRefs(withHome('array'))).toEqual([]);
    for (const t of ['percpu_array', 'percpu_hash', 'lru_hash', 'lru_percpu_hash']) {
      expect(checkScenarioRefs(withHome(t))).toEqual([`slots[0].home.spinLock: a ${t} value cannot hold a spin lock (array and hash only)`]);
    }
  });

  it('should take lock on update, lookup, lookup_and_delete and the batch update and lookups only', () => {
    const withStep = (step: object): unknown => ({ ...hlu, schedule: [step] });
    expect(() => parseScenario(withStep({ mapOp: 'delete', slot: 'hlu_h', key: 0, lock: true }), 'test')).toThrow(/lock/);
    expect(() => parseScenario(withStep({ mapOp: 'delete_batch', slot: 'hlu_h', keys: [0], lock: true }), 'test')).toThrow(/lock/);
    expect(() => parseScenario(withStep({ mapOp: 'lookup', slot: 'hlu_h', key: 0, lock: 'yes' }), 'test')).toThrow(/boolean/);
    for (const step of [{ mapOp: 'lookup', slot: 'hlu_h', key: 0, lock: true }, { mapOp: 'lookup_and_delete', slot: 'hlu_h', key: 0, lock: true }, { mapOp: 'lookup_and_delete_batch', slot: 'hlu_h', count: 1, lock: true }]) {
      expect(() => parseScenario(withStep(step), 'test')).not.toThrow();
    }
  });

  it('should pass BPF_F_LOCK (4) in the harness plan flags, or\'ed with the update flags and as a batch\'s elem_flags', () => {
    expect(mapOpPlanArgs({ mapOp: 'update', slot: 's', key: 0, flags: 'BPF_EXIST', sum: '5', lock: true })).toEqual(['0', '6', '5']);
    expect(mapOpPlanArgs({ mapOp: 'lookup', slot: 's', key: 1, lock: true })).toEqual(['1', '4', '0']);
    expect(mapOpPlanArgs({ mapOp: 'lookup_batch', slot: 's', count: 2, lock: true })).toEqual(['2', '4', '0']);
    expect(mapOpPlanArgs({ mapOp: 'update_batch', slot: 's', keys: [0], flags: 'BPF_ANY', sum: '1' })).toEqual(['0', '0', '1']);
  });
});

describe('oracle: BPF_F_LOCK map operations (specs/ops/map)', () => {
  const p = predict(hlu, kernel('6.18.44'), spec);

  it('should predict every errno: the locked operations succeed on a value with a lock, and are EINVAL on one without', () => {
    expect(p.wellFormed).toBe(true);
    expect(p.mapOps.map((r) => `${r.mapOp} ${r.mapType} ${r.err ?? 'ok'}`)).toEqual([
      'update hash ok', 'lookup hash ok', 'update hash ok', 'update_batch hash ok', 'lookup_batch hash ENOENT',
      'update array ok', 'lookup array ok', 'update_batch array ok', 'lookup_batch array ok',
      'update hash EINVAL', 'lookup hash EINVAL', 'update_batch hash EINVAL', 'lookup_batch hash EINVAL', 'lookup_and_delete_batch hash EINVAL']);
    // the batch failures come before any element: count stays as passed
    expect(p.mapOps.slice(-3).map((r) => r.count)).toEqual([1, 1, 1]);
  });

  it('should count a locked map operation and a value with a spin lock among the exercises (coverage)', () => {
    expect(p.exercises).toEqual(['home map array spin_lock', 'home map array', 'home map hash spin_lock', 'home map hash', 'step map_op BPF_F_LOCK', 'step map_op', 'step run'].sort());
  });

  it('should predict a lookup\'s value with zero where the kptr and the spin lock sit', () => {
    expect(p.mapOps.find((r) => r.step === 2)?.value).toEqual([['5', '0', '0']]);
    expect(p.mapOps.find((r) => r.step === 9)?.value).toEqual([['7', '0', '0']]);
    expect(p.mapOps.find((r) => r.step === 13)?.value).toEqual([['8', '0', '0']]);
  });

  it('should predict the contract: every locked update releases the old object, so each check finds NULL', () => {
    expect(p.steps.filter((s) => s.program.endsWith('_check')).map((s) => [s.step, s.retval])).toEqual([[3, 1], [6, 1], [10, 1], [14, 1], [18, 1]]);
  });

  it('should report the first locked update of a hash element holding an object, on kernels in range only', () => {
    const hits = (version: string) => predict(hlu, kernel(version), spec).divergences.filter((d) => d.divergenceId === ID);
    for (const v of ['6.12.117', '6.18.15', '6.18.44', '7.3.4']) expect(hits(v), v).toEqual([{ program: null, step: 1, divergenceId: ID, hostUnsafe: false, splat: false, kind: 'value' }]);
    expect(hits('6.1.192')).toEqual([]);
  });

  it('should not start the divergence at an update without BPF_F_LOCK', () => {
    const plain = { ...hlu, schedule: hlu.schedule.map((s) => ('mapOp' in s && 'lock' in s ? (({ lock: _, ...rest }) => rest)(s) : s)) } as Scenario;
    expect(predict(plain, kernel('6.18.44'), spec).divergences.filter((d) => d.divergenceId === ID)).toEqual([]);
  });

  it('should explain the hash checks that find the object kept, and nothing before the first locked update', () => {
    const kept = Object.fromEntries(HASH_CHECKS.map((s) => [s, 2]));
    const r = compare(p, asObserved(p, kept));
    expect([r.status, r.divergences]).toEqual(['divergence', [ID]]);
    const before = compare(p, asObserved(p, { ...kept, 0: 4 }));
    expect(before.status).toBe('fail');
    expect(before.mismatches.map((m) => m.step)).toContain(0);
  });
});

describe('emulator: BPF_F_LOCK map operations', () => {
  it('should copy a hash element in place (the object kept), release an array\'s, and give the oracle\'s map operation results', async () => {
    const [o] = await batchObserver({ kernel: '6.18', workDir: await mkdtemp(join(tmpdir(), 'kptr-hlu-')) })([hlu], new Map());
    expect(o?.error).toBeNull();
    expect(o?.runs.filter((r) => r.program.endsWith('_check')).map((r) => [r.step, r.retval])).toEqual([[3, 2], [6, 2], [10, 2], [14, 1], [18, 1]]);
    expect(o?.mapOps).toEqual(predict(hlu, kernel('6.18.15'), spec).mapOps);
  });
});

describe('BPF_F_LOCK on the single lookup_and_delete', () => {
  const hld = lockedLookupAndDelete(hlu);
  it('should copy under the lock and release the object (hash with a lock), be ENOTSUPP on an array, EINVAL without a lock: oracle and emulator alike', async () => {
    const p = predict(hld, kernel('6.18.44'), spec);
    expect(p.wellFormed).toBe(true);
    expect(p.mapOps.map((r) => `${r.mapOp} ${r.mapType} ${r.err ?? 'ok'}${r.value === null ? '' : ` ${JSON.stringify(r.value)}`}`)).toEqual([
      'lookup_and_delete hash ok [["0","0","0"]]', 'lookup_and_delete array ENOTSUPP', 'update hash ok', 'lookup_and_delete hash EINVAL', 'lookup_and_delete hash ok [["3","0"]]',
    ]);
    expect(p.steps.find((s) => s.step === 2)?.retval).toBe(1);
    const [o] = await batchObserver({ kernel: '6.18', workDir: await mkdtemp(join(tmpdir(), 'kptr-hld-')) })([hld], new Map());
    expect(o?.error).toBeNull();
    expect(o?.mapOps).toEqual(p.mapOps);
    expect(compare(p, o!).status).toBe('pass');
  });
});

describe('array_update_keeps_percpu_kptr: a 7.3 array update keeps the object', () => {
  const aua = loadScenarioFile(fileURLToPath(new URL('../../../specs/regressions/array_update_keeps_percpu_kptr.yaml', import.meta.url)));
  const AUA = 'array_update_keeps_percpu_kptr';

  it('should report the first userspace update of an array element holding an object on 7.3 only, and explain what follows', () => {
    const hits = (version: string) => predict(aua, kernel(version), spec).divergences.filter((d) => d.divergenceId === AUA);
    expect(hits('7.3.4')).toEqual([{ program: null, step: 1, divergenceId: AUA, hostUnsafe: false, splat: false, kind: 'value' }]);
    for (const v of ['6.12.117', '6.18.15', '6.18.44']) expect(hits(v), v).toEqual([]);
    const p = predict(aua, kernel('7.3.4'), spec);
    const kept = Object.fromEntries([2, 5, 8, 11, 14, 17, 20, 23].map((s) => [s, 2]));
    expect([compare(p, asObserved(p, kept)).status, compare(p, asObserved(p, kept)).divergences]).toEqual(['divergence', [AUA]]);
    expect(compare(predict(aua, kernel('6.18.15'), spec), asObserved(p, kept)).status).toBe('fail');
  });

  it('should be reproduced by the emulator\'s 7.3 profile and not by 6.18\'s', async () => {
    const checks = async (profile: '6.18' | '7.3') => {
      const [o] = await batchObserver({ kernel: profile, workDir: await mkdtemp(join(tmpdir(), 'kptr-aua-')) })([aua], new Map());
      expect(o?.error).toBeNull();
      return o!.runs.filter((r) => r.program.endsWith('_check')).map((r) => r.retval);
    };
    expect(await checks('7.3')).toEqual([2, 2, 2, 2, 2, 2, 2, 2]);
    expect(await checks('6.18')).toEqual([1, 1, 1, 1, 1, 1, 1, 1]);
  });
});

describe('oracle: BPF_F_LOCK on an LRU map', () => {
  it('should fail with EINVAL before the update takes a node, so the element stays (a later delete succeeds), as the emulator does', async () => {
    const lru: Scenario = {
      ...hlu,
      slots: [{ ...hlu.slots[0]!, home: { kind: 'map', mapType: 'lru_percpu_hash' } }],
      programs: hlu.programs.filter((p) => p.name.startsWith('hluh_')),
      schedule: [{ program: 'hluh_put', cpu: 0, repeat: 1 }, { mapOp: 'update', slot: 'hlu_h', key: 1, flags: 'BPF_ANY', sum: '1', lock: true }, { mapOp: 'delete', slot: 'hlu_h', key: 0 }],
    };
    expect(predict(lru, kernel('7.3.4'), spec).mapOps.map((r) => r.err)).toEqual(['EINVAL', null]);
    const [o] = await batchObserver({ kernel: '7.3', workDir: await mkdtemp(join(tmpdir(), 'kptr-lru-lock-')) })([lru], new Map());
    expect(o?.mapOps.map((r) => r.err)).toEqual(['EINVAL', null]);
  });
});

describe('emulator verifier: a value with a spin lock', () => {
  it('should give an array lookup the kernel knows non-NULL an id when the value holds a spin lock, as check_helper_call does', async () => {
    // a program that looks the slot up (array, constant key: never NULL) and leaks a new object: the leaked
    // reference's id counts every id given before it (host 6.18.44-fc-v1098, 2026-12-03: id=3 with the lock, id=2 without)
    const leak = (spinLock: boolean): Scenario => ({
      ...hlu,
      id: spinLock ? 'idl' : 'idn',
      structs: [{ name: spinLock ? 'idl_t' : 'idn_t', members: [{ kind: 'scalar', name: 'c', ctype: 'long', count: null }] }],
      slots: [{ name: spinLock ? 'idl_m' : 'idn_m', home: { kind: 'map', mapType: 'array', ...(spinLock ? { spinLock } : {}) }, pointee: spinLock ? 'idl_t' : 'idn_t', tag: 'percpu_kptr' }],
      programs: [{
        name: spinLock ? 'idl_p' : 'idn_p', progType: 'tc', license: 'GPL',
        vars: [{ name: 'e', type: { kind: 'map_value', slot: spinLock ? 'idl_m' : 'idn_m' } }, { name: 'p', type: { kind: 'percpu', struct: spinLock ? 'idl_t' : 'idn_t' } }],
        ops: [{ op: 'lookup', slot: spinLock ? 'idl_m' : 'idn_m', dst: 'e' }, { op: 'new', dst: 'p', struct: spinLock ? 'idl_t' : 'idn_t', percpu: true }, { op: 'return', value: 0 }],
      }],
      schedule: [],
      intent: { kind: 'break', rule: 'ref.leak' },
    });
    const leakedId = async (spinLock: boolean): Promise<number> => {
      const [o] = await batchObserver({ kernel: '6.18.44', workDir: await mkdtemp(join(tmpdir(), 'kptr-idl-')) })([leak(spinLock)], new Map());
      const p = o!.programs[0]!;
      expect(p.verdict).toBe('rejected');
      return Number(/Unreleased reference id=(\d+)/.exec(p.verdict === 'rejected' ? p.log : '')?.[1]);
    };
    expect(await leakedId(true)).toBe(await leakedId(false) + 1);
  });
});
