import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { prefixScenario } from '../../../generators/prefixScenario.ts';
import { scenario } from '../../../generators/scenario.ts';
import { checkScenarioRefs, parseScenario } from '../../../specs/scenarioSchema.ts';
import type { Op, Scenario } from '../../../types/index.ts';

/** File-scope C identifiers of a scenario (what a batch must keep disjoint). */
function identifiers(s: Scenario): Set<string> {
  return new Set([...s.structs.map((t) => t.name), ...s.slots.map((x) => x.name), ...s.globals.map((g) => g.name), ...s.programs.map((p) => p.name)]);
}
const locals = (s: Scenario): string[] => s.programs.flatMap((p) => p.vars.map((v) => v.name));
const opKinds = (ops: readonly Op[]): string[] => ops.flatMap((o) => (o.op === 'if' ? [o.op, ...opKinds(o.then)] : [o.op]));

describe('prefixScenario()', () => {
  it('makes the identifiers of two scenarios disjoint and keeps them consistent', () => {
    fc.assert(fc.property(scenario(), scenario(), (a, b) => {
      const pa = prefixScenario(a, 's42_7');
      const pb = prefixScenario(b, 's42_8');
      expect(pa.id).toBe('s42_7');
      expect(checkScenarioRefs(pa)).toEqual([]);
      expect(checkScenarioRefs(pb)).toEqual([]);
      expect(parseScenario(JSON.parse(JSON.stringify(pa)), 'prefixed')).toEqual(pa);
      const ib = identifiers(pb);
      for (const id of identifiers(pa)) {
        expect(id.startsWith('s42_7_')).toBe(true);
        expect(ib.has(id)).toBe(false);
      }
      expect(locals(pa)).toEqual(locals(a));
      expect(pa.programs.map((p) => opKinds(p.ops))).toEqual(a.programs.map((p) => opKinds(p.ops)));
      expect(pa.intent).toEqual(a.intent);
    }), { seed: 20261125, numRuns: 300 });
  });
});
