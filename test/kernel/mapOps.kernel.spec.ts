import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';
import { beforeAll, describe, expect, it } from 'vitest';
import { checkScenarios } from '../../cli/pipeline.ts';
import { createEmulatorRunner } from '../../runners/emulator/index.ts';
import { loadScenarioFile, loadSpec } from '../../specs/load.ts';
import type { MapType, Observation, Scenario } from '../../types/index.ts';
import { hostSession } from '../helpers/hostSession.ts';
import { needs } from '../helpers/needs.ts';
import { batchOpsScenario, lockedLookupAndDelete, lruEvictionScenario, mapOpsScenario } from './scenarios.ts';

beforeAll(async () => {
  await execa('bash', [join(import.meta.dirname, '../../scripts/build-harness.sh')]);
});

const TYPES: readonly MapType[] = ['array', 'percpu_array', 'hash', 'percpu_hash'];

/** What both runners report of a run: retvals per step, and every map operation's errno, value, count and keys. */
const facts = (o: Observation) => ({ runs: o.runs.map((r) => [r.step, r.retval]), mapOps: o.mapOps });

/**
 * `scenarios` on the host kernel and on the emulator: every case passes with every step run (`runs` program runs,
 * `mapOps` map operations), lookups copy zero where the kptr sits, and the emulator reports exactly what the kernel did.
 */
async function onHostAndEmulator(scenarios: readonly Scenario[], runs: number, mapOps: number) {
  const spec = loadSpec();
  const { runner, kernel } = await hostSession(spec, 'direct');
  const host = await checkScenarios({ runner, kernel, spec, scenarios });
  const emulator = createEmulatorRunner({ workDir: '/tmp', nrCpus: kernel.nrCpus });
  const emulated = await checkScenarios({ runner: emulator, kernel, spec, scenarios });
  for (const [i, c] of host.entries()) {
    const id = scenarios[i]!.description;
    expect(c.observation.notRun, id).toEqual([]);
    expect(c.result.mismatches, id).toEqual([]);
    expect(c.result.status, id).toBe('pass');
    expect(c.observation.runs.length, id).toBe(runs);
    expect(c.observation.mapOps.length, id).toBe(mapOps);
    for (const op of c.observation.mapOps) for (const copy of op.value ?? []) expect(copy[1], id).toBe('0');
    expect(facts(emulated[i]!.observation), id).toEqual(facts(c.observation));
    expect(emulated[i]!.result.status, id).toBe('pass');
  }
  return host;
}

describe('userspace map operations on the host kernel', () => {
  it('should release the object on update and delete, re-add elements with a NULL field, and agree with the oracle and the emulator', async (ctx) => {
    await needs(ctx, 'kernel');
    const host = await onHostAndEmulator(TYPES.map((t, i) => mapOpsScenario(`kmo${i}`, t)), 9, 14);
    // step 1: the object stored by step 0 is there; step 3's update released it, so steps 4 and 5 see NULL
    for (const c of host) expect(c.observation.runs.slice(1, 4).map((r) => r.retval)).toEqual([2, 1, 1]);
    // hash maps: step 10 deleted the element holding step 9's object, and step 13's lookup re-added it NULL
    for (const c of host.slice(2)) expect(c.observation.runs.find((r) => r.step === 13)?.retval).toBe(1);
  });

  it('should run every batch form on every map type, lru_hash too, each with its count, and agree with the oracle and the emulator', async (ctx) => {
    await needs(ctx, 'kernel');
    const host = await onHostAndEmulator([...TYPES, 'lru_hash' as const].map((t, i) => batchOpsScenario(`kbo${i}`, t)), 10, 14);
    for (const c of host) expect(c.observation.mapOps.every((op) => op.count !== undefined)).toBe(true);
  });

  it('should evict under pressure on lru_hash and lru_percpu_hash, releasing the evicted object, and agree with the oracle and the emulator', async (ctx) => {
    await needs(ctx, 'kernel');
    const host = await onHostAndEmulator((['lru_hash', 'lru_percpu_hash'] as const).map((t, i) => lruEvictionScenario(`kle${i}`, t)), 10, 10);
    const [lru, percpu] = host.map((c) => c.observation);
    // the update of key 1 evicted key 0 with its object; the program's insert of key 0 then evicted key 1
    for (const o of [lru!, percpu!]) {
      expect(o.mapOps.slice(0, 3).map((op) => op.err)).toEqual([null, 'ENOENT', null]);
      expect(o.runs.find((r) => r.step === 5)?.retval).toBe(1);
      // BPF_NOEXIST on the present key 0 evicted it and inserted it afresh: its object is gone
      expect(o.mapOps[3]?.err).toBe(null);
      expect(o.runs.find((r) => r.step === 8)?.retval).toBe(1);
    }
    // BPF_EXIST on the present key: lru_hash evicts it first and finds nothing; lru_percpu_hash updates in place
    expect([lru!, percpu!].map((o) => o.mapOps[4]?.err)).toEqual(['ENOENT', null]);
    expect([lru!, percpu!].map((o) => o.mapOps[5]?.err)).toEqual(['ENOENT', null]);
    // BPF_EXIST of the missing key 1 with key 0 holding an object: only lru_hash evicts key 0
    expect([lru!, percpu!].map((o) => o.runs.find((r) => r.step === 14)?.retval)).toEqual([1, 2]);
  });

  it('should run BPF_F_LOCK updates and lookups on values with a spin lock (both codegens), EINVAL without one, and report a kept object as its divergence', async (ctx) => {
    await needs(ctx, 'kernel');
    const spec = loadSpec();
    const regression = (f: string): Scenario => loadScenarioFile(fileURLToPath(new URL(`../../specs/regressions/${f}`, import.meta.url)));
    const scenarios = [regression('htab_lock_update_keeps_percpu_kptr.yaml'), regression('array_update_keeps_percpu_kptr.yaml')];
    /** the divergence that explains a check run finding the field set, per scenario */
    const explains: Readonly<Record<string, string>> = { hlu: 'htab_lock_update_keeps_percpu_kptr', aua: 'array_update_keeps_percpu_kptr' };
    for (const codegen of ['direct', 'clang'] as const) {
      const { runner, kernel } = await hostSession(spec, codegen);
      const host = await checkScenarios({ runner, kernel, spec, scenarios });
      const emulated = await checkScenarios({ runner: createEmulatorRunner({ workDir: '/tmp', nrCpus: kernel.nrCpus }), kernel, spec, scenarios });
      for (const [i, c] of host.entries()) {
        const id = `${codegen} ${c.result.scenarioId}`;
        expect(c.observation.error, id).toBeNull();
        expect(c.observation.notRun, id).toEqual([]);
        expect(c.observation.programs.every((x) => x.verdict === 'accepted'), id).toBe(true);
        // every map operation as the contract says: errno, count, [sum, 0 where the kptr sits, 0 where the lock sits]
        expect(c.result.mismatches.filter((m) => m.kind !== 'value'), id).toEqual([]);
        const checks = c.observation.runs.filter((r) => r.program.endsWith('_check'));
        expect(checks.every((r) => r.retval === 1 || r.retval === 2), id).toBe(true);
        const kept = checks.filter((r) => r.retval === 2).map((r) => r.step);
        // the oracle places the divergence on this kernel (by its range: a value divergence has no probe)
        const inRange = c.oracle.divergences.some((d) => d.divergenceId === explains[c.result.scenarioId]);
        console.log(`${kernel.release} ${id}: object kept after steps [${kept.join(', ')}]; ${c.result.status}`);
        // the tool says what the kernel did: as predicted, the known divergence where it applies, else a finding
        if (kept.length === 0) expect([c.result.status, c.result.divergences], id).toEqual(['pass', []]);
        else expect([c.result.status, c.result.divergences], id).toEqual(inRange ? ['divergence', [explains[c.result.scenarioId]]] : ['fail', []]);
        // the emulator models the kernels measured: where this one keeps the object in the hash element, it agrees
        if (c.result.scenarioId === 'hlu' && kept.length > 0) expect(facts(emulated[i]!.observation), id).toEqual(facts(c.observation));
      }
    }
  });

  it('should run BPF_F_LOCK on the single lookup_and_delete as the contract says (both codegens), the emulator agreeing', async (ctx) => {
    await needs(ctx, 'kernel');
    const spec = loadSpec();
    const hld = lockedLookupAndDelete(loadScenarioFile(fileURLToPath(new URL('../../specs/regressions/htab_lock_update_keeps_percpu_kptr.yaml', import.meta.url))));
    for (const codegen of ['direct', 'clang'] as const) {
      const { runner, kernel } = await hostSession(spec, codegen);
      const [c] = await checkScenarios({ runner, kernel, spec, scenarios: [hld] });
      const [e] = await checkScenarios({ runner: createEmulatorRunner({ workDir: '/tmp', nrCpus: kernel.nrCpus }), kernel, spec, scenarios: [hld] });
      expect(c!.observation.error, codegen).toBeNull();
      expect(c!.observation.notRun, codegen).toEqual([]);
      // errnos and copies as specs/ops/map/lookup_and_delete.yaml says: ok under the lock, ENOTSUPP on the array, EINVAL without a lock
      expect(c!.observation.mapOps.map((r) => r.err ?? 'ok'), codegen).toEqual(['ok', 'ENOTSUPP', 'ok', 'EINVAL', 'ok']);
      expect(c!.result.mismatches.filter((m) => m.kind === 'map_op'), codegen).toEqual([]);
      expect(e!.observation.mapOps, codegen).toEqual(c!.observation.mapOps);
      // the check after the locked lookup_and_delete: the tool says what the kernel did (released: pass; kept: a finding)
      const check = c!.observation.runs.find((r) => r.step === 2)?.retval;
      expect([check, c!.result.status], codegen).toEqual(check === 1 ? [1, 'pass'] : [check, 'fail']);
    }
  });
});
