import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { scenario } from '../../../generators/scenario.ts';
import { generateValues, shrinkBatched } from '../../../campaign/shrink.ts';
import { checkScenarioRefs, parseScenario } from '../../../specs/scenarioSchema.ts';
import type { Op, Scenario } from '../../../types/index.ts';
import { scenarioProblems } from './wellFormed.ts';
import { isRunStep } from '../../../types/index.ts';
import { statePairVocabulary } from '../../../oracle/statePairs.ts';
import { loadSpec } from '../../../specs/load.ts';

const SEED = 20261125;

function allOps(ops: readonly Op[]): Op[] {
  return ops.flatMap((o) => (o.op === 'if' ? [o, ...allOps(o.then)] : [o]));
}
const opsOf = (s: Scenario): Op[] => s.programs.flatMap((p) => allOps(p.ops));

describe('scenario()', () => {
  it('every scenario parses, resolves and round-trips through JSON', () => {
    fc.assert(fc.property(scenario(), (s) => {
      const json: unknown = JSON.parse(JSON.stringify(s));
      expect(json).toStrictEqual(s);
      expect(parseScenario(json, 'gen')).toEqual(s);
      expect(checkScenarioRefs(s)).toEqual([]);
    }), { seed: SEED, numRuns: 600 });
  });

  it('intent valid means well-formed (independent walk), for every nrCpus', () => {
    for (const nrCpus of [1, 2, 4]) {
      fc.assert(fc.property(scenario({ mode: 'valid', nrCpus }), (s) => {
        expect(s.intent).toEqual({ kind: 'valid' });
        expect(scenarioProblems(s, nrCpus)).toEqual([]);
      }), { seed: SEED + nrCpus, numRuns: 700 });
    }
  });

  it('valid scenarios reach deep states: every op kind but store, sleepable loads under the lock, multi-program schedules', () => {
    const seen = new Map<string, number>();
    const bump = (k: string): void => { seen.set(k, (seen.get(k) ?? 0) + 1); };
    for (const s of fc.sample(scenario({ mode: 'valid' }), { seed: SEED, numRuns: 1000 })) {
      for (const o of opsOf(s)) bump(o.op);
      if (s.programs.length > 1) bump('multi-program');
      if (s.programs.some((p) => p.progType === 'syscall' && allOps(p.ops).some((o) => o.op === 'load'))) bump('sleepable load');
      if (s.programs.some((p) => allOps(p.ops).some((o) => o.op === 'per_cpu_ptr' && o.cpu === 1))) bump('per_cpu_ptr cpu 1');
      if (s.slots.some((x) => x.tag === 'kptr')) bump('plain __kptr slot');
      if (s.structs.some((t) => t.members.some((m) => m.kind === 'struct'))) bump('nested struct');
      for (const x of s.slots) bump(`home ${x.home.kind === 'map' ? x.home.mapType : x.home.kind === 'global' ? x.home.section : x.home.kind}`);
    }
    console.log('valid-scenario coverage over 1000:', Object.fromEntries([...seen].sort()));
    for (const k of ['lookup', 'new', 'if', 'xchg', 'drop', 'load', 'per_cpu_ptr', 'this_cpu_ptr', 'write', 'read', 'sum',
      'rcu_lock', 'rcu_unlock', 'return', 'multi-program', 'sleepable load', 'per_cpu_ptr cpu 1', 'plain __kptr slot',
      'nested struct', 'home array', 'home hash', 'home lru_hash', 'home percpu_array', 'home percpu_hash', 'home bss', 'home data']) {
      expect(seen.get(k) ?? 0, k).toBeGreaterThan(0);
    }
    expect(seen.get('store') ?? 0).toBe(0);
  });

  it('should put slots in task and cgroup storage, and with ownerExitFreq 1 end or split the runs of each such scenario with owner_exit', () => {
    const homes = new Map<string, number>();
    let exits = 0;
    for (const v of generateValues(scenario({ mode: 'valid', ownerExitFreq: 1 }), SEED, 300)) {
      const s = v.value_;
      for (const x of s.slots) homes.set(x.home.kind, (homes.get(x.home.kind) ?? 0) + 1);
      const local = s.slots.some((x) => x.home.kind === 'task_storage' || x.home.kind === 'cgrp_storage');
      expect(s.schedule.filter((st) => 'owner_exit' in st).length).toBe(local ? 1 : 0);
      if (local) exits++;
      expect(checkScenarioRefs(s)).toEqual([]);
      expect(scenarioProblems(s, 2)).toEqual([]);
    }
    expect(homes.get('task_storage') ?? 0).toBeGreaterThan(10);
    // cgroup storage only as a second slot (slot 0 is one every program may look up)
    expect(homes.get('cgrp_storage') ?? 0).toBeGreaterThan(0);
    expect(exits).toBeGreaterThan(20);
    // off by default: the host runner skips a scenario with an owner_exit
    expect([...generateValues(scenario({ mode: 'valid' }), SEED, 300)].some((v) => v.value_.schedule.some((st) => 'owner_exit' in st))).toBe(false);
  });

  it('should keep every slot out of local storage when the homes allow none, breaks and aimed pairs included', () => {
    const targets = statePairVocabulary(loadSpec(), { version: '6.18.44', divergences: [] }, ['tc', 'syscall']);
    const homes = new Set<string>();
    for (const v of generateValues(scenario({ mode: 'mixed', progTypes: ['tc', 'syscall'], homes: { localStorages: [] }, targets }), SEED, 600)) {
      for (const x of v.value_.slots) homes.add(x.home.kind);
    }
    expect([...homes].sort()).toEqual(['global', 'map']);
  });

  it('should keep a non-GPL object (a kfunc.non_gpl break) out of local storage, whose bpf_get_current_task_btf is GPL-only', () => {
    let proprietary = 0;
    for (const v of generateValues(scenario({ mode: 'break', rules: ['kfunc.non_gpl'] }), SEED, 300)) {
      if (!v.value_.programs.some((p) => p.license === 'Proprietary')) continue;
      proprietary++;
      expect(v.value_.slots.map((x) => x.home.kind)).not.toContain('task_storage');
      expect(v.value_.slots.map((x) => x.home.kind)).not.toContain('cgrp_storage');
    }
    expect(proprietary).toBeGreaterThan(100);
  });

  it('default mode mixes valid, single-break and mixed scenarios', () => {
    const kinds = new Map<string, number>();
    for (const s of fc.sample(scenario(), { seed: SEED, numRuns: 1000 })) kinds.set(s.intent.kind, (kinds.get(s.intent.kind) ?? 0) + 1);
    console.log('intent mix over 1000:', Object.fromEntries(kinds));
    expect(kinds.get('valid') ?? 0).toBeGreaterThan(350);
    expect(kinds.get('break') ?? 0).toBeGreaterThan(350);
    expect(kinds.get('mixed') ?? 0).toBeGreaterThan(10);
  });

  it('same seed, same scenarios; another seed, other scenarios', () => {
    const a = fc.sample(scenario(), { seed: 7, numRuns: 50 });
    const b = fc.sample(scenario(), { seed: 7, numRuns: 50 });
    const c = fc.sample(scenario(), { seed: 8, numRuns: 50 });
    expect(b).toStrictEqual(a);
    expect(c).not.toStrictEqual(a);
  });

  it('shrinks a failing property on big scenarios to a small counterexample', () => {
    const size = (s: Scenario): number => opsOf(s).length;
    let firstFailure: Scenario | null = null;
    const out = fc.check(fc.property(scenario({ mode: 'valid', maxPrograms: 4, maxOps: 40, size: 'max' }), (s) => {
      const hasSum = opsOf(s).some((o) => o.op === 'sum');
      if (hasSum && firstFailure === null) firstFailure = s;
      return !hasSum;
    }), { seed: SEED, numRuns: 300 });
    expect(out.failed).toBe(true);
    const small = out.counterexample?.[0] as Scenario;
    const first = firstFailure as unknown as Scenario;
    console.log(`shrink: ${first.programs.length} programs / ${size(first)} ops -> ${small.programs.length} / ${size(small)} after ${out.numShrinks} shrinks`);
    expect(small.programs).toHaveLength(1);
    expect(size(small)).toBeLessThanOrEqual(8); // lookup, new, if(return), xchg, if(drop), sum
    expect(size(small)).toBeLessThan(size(first));
    expect(scenarioProblems(small, 2)).toEqual([]);
  });
});

describe('scenario() history tails', () => {
  const gracePeriods = (s: Scenario): number => s.schedule.filter((x) => 'grace_period' in x).length;

  it('should end every schedule with a grace period and one program run twice when historyFreq is 1', () => {
    fc.assert(fc.property(scenario({ historyFreq: 1 }), (s) => {
      const [gp, run] = s.schedule.slice(-2);
      expect(gp).toEqual({ grace_period: true });
      expect(run && isRunStep(run) && run.repeat).toBe(2);
      expect(s.programs.map((p) => p.name)).toContain(run && isRunStep(run) ? run.program : null);
      expect(gracePeriods(s)).toBe(1);
      expect(parseScenario(JSON.parse(JSON.stringify(s)), 'gen')).toEqual(s);
      expect(checkScenarioRefs(s)).toEqual([]);
    }), { seed: SEED, numRuns: 200 });
  });

  it('should add the tail to about 1 scenario in 128 by default, and never with historyFreq 0', () => {
    const count = (c: Parameters<typeof scenario>[0]): number => fc.sample(scenario(c), { seed: SEED, numRuns: 1280 }).filter((s) => gracePeriods(s) > 0).length;
    const byDefault = count({});
    expect(byDefault).toBeGreaterThan(2);
    expect(byDefault).toBeLessThan(25);
    expect(count({ historyFreq: 0 })).toBe(0);
  });

  it('should refuse a negative historyFreq', () => {
    expect(() => scenario({ historyFreq: -1 })).toThrow('scenario: historyFreq must be a non-negative integer, got -1');
  });

  it('should shrink within the tail: kept when the failure needs the grace period, gone when it does not', async () => {
    const arb = scenario({ mode: 'valid', historyFreq: 2, maxOps: 30, size: 'max' });
    const values = [...generateValues(arb, SEED, 400)];
    const tailAllocates = (s: Scenario): boolean => {
      const last = s.schedule.at(-1);
      const p = last && isRunStep(last) ? s.programs.find((x) => x.name === last.program) : undefined;
      return gracePeriods(s) > 0 && p !== undefined && allOps(p.ops).some((o) => o.op === 'new' && o.percpu);
    };
    const needsTail = values.find((v) => tailAllocates(v.value_) && opsOf(v.value_).length > 12)!;
    const opts = { batchSize: 16, maxSteps: 500, maxChecks: 20_000, maxRounds: 2_000 };
    const kept = await shrinkBatched(arb, needsTail, async (cs) => cs.map(tailAllocates), opts);
    expect(tailAllocates(kept.value)).toBe(true);
    expect(kept.value.schedule.slice(-2)[0]).toEqual({ grace_period: true });
    expect(opsOf(kept.value).length).toBeLessThan(opsOf(needsTail.value_).length);
    const hasSum = (s: Scenario): boolean => opsOf(s).some((o) => o.op === 'sum');
    const withTail = values.find((v) => gracePeriods(v.value_) > 0 && hasSum(v.value_))!;
    const gone = await shrinkBatched(arb, withTail, async (cs) => cs.map(hasSum), opts);
    expect(hasSum(gone.value)).toBe(true);
    expect(gracePeriods(gone.value)).toBe(0);
  });
});
