import { describe, expect, it } from 'vitest';
import { bootShare, guestUnits } from '../../../../runners/vm/guestUnits.ts';
import type { Scenario } from '../../../../types/index.ts';

const s = (id: string): Scenario => ({
  id, description: id, origin: null, intent: { kind: 'valid' }, structs: [], slots: [], globals: [], programs: [], schedule: [],
});
/** a, b, c and x in object A; d and y in object B, interleaved as a license-packed batch list would leave them */
const pending = ['a', 'd', 'x', 'b', 'y', 'c'].map(s);
const objectOf = new Map([['a', 'A'], ['b', 'A'], ['c', 'A'], ['x', 'A'], ['d', 'B'], ['y', 'B']]);
const ids = (units: ReturnType<typeof guestUnits>): string[][] => units.map((u) => u.scenarios.map((x) => x.id));
const none = (): boolean => false;

describe('guestUnits', () => {
  it('should give each object one harness run, in pending order, objects in order of first appearance', () => {
    const units = guestUnits(pending, objectOf, { alone: none, tier: () => 0 });
    expect(ids(units)).toEqual([['a', 'x', 'b', 'c'], ['d', 'y']]);
    expect(units.map((u) => u.id)).toEqual(['u0', 'u1']);
  });

  it('should split an object\'s run around a scenario that must run alone, keeping its place', () => {
    expect(ids(guestUnits(pending, objectOf, { alone: (x) => x.id === 'x', tier: () => 0 }))).toEqual([['a'], ['x'], ['b', 'c'], ['d', 'y']]);
  });

  it('should run the scenarios expected to splat after all the others, grouped by object the same way', () => {
    const tier = (x: Scenario): number => (x.id === 'x' || x.id === 'd' || x.id === 'c' ? 1 : 0);
    expect(ids(guestUnits(pending, objectOf, { alone: none, tier }))).toEqual([['a', 'b'], ['y'], ['d'], ['x', 'c']]);
  });

  it('should run the scenarios that may corrupt the kernel after those expected to splat, whatever their order', () => {
    const tier = (x: Scenario): number => ({ a: 2, x: 1, y: 2 } as Record<string, number>)[x.id] ?? 0;
    expect(ids(guestUnits(pending, objectOf, { alone: none, tier }))).toEqual([['d'], ['b', 'c'], ['x'], ['a'], ['y']]);
  });

  it('should take one scenario that may corrupt the kernel per boot, the first pending, and leave the others for later boots', () => {
    const share = bootShare(pending, new Set(['x', 'y']));
    expect([share.now.map((x) => x.id), share.later.map((x) => x.id)]).toEqual([['a', 'd', 'x', 'b', 'c'], ['y']]);
    expect(bootShare(share.later, new Set(['x', 'y'])).now.map((x) => x.id)).toEqual(['y']);
    expect(bootShare(pending, new Set()).later).toEqual([]);
  });
});
