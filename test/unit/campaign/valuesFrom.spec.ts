import { describe, expect, it } from 'vitest';
import { scenario } from '../../../generators/scenario.ts';
import { generateValues, valuesFrom, type StreamPosition } from '../../../campaign/shrink.ts';

describe('valuesFrom', () => {
  const arb = scenario({ mode: 'mixed', progTypes: ['tc', 'syscall'], nrCpus: 2 });

  it('should continue from a saved position (through JSON, as a checkpoint keeps it) with exactly the values the stream has there', () => {
    const all = [...generateValues(arb, 77, 40)].map((v) => v.value_);
    let at: StreamPosition = { index: 0, state: null };
    const it = valuesFrom(arb, 77);
    for (let i = 0; i < 17; i++) at = it.next().value!.next;
    const saved = JSON.parse(JSON.stringify(at)) as StreamPosition;
    expect(saved.index).toBe(17);
    const rest: unknown[] = [];
    for (const v of valuesFrom(arb, 77, saved)) {
      rest.push(v.value.value_);
      if (v.next.index === 40) break;
    }
    expect(rest).toEqual(all.slice(17));
  });

  it('should regenerate one value from the position before it (a failing case restored for shrinking)', () => {
    const it = valuesFrom(arb, 5);
    const first = [...Array(9)].map(() => it.next().value!);
    const again = valuesFrom(arb, 5, JSON.parse(JSON.stringify(first[7]!.next)) as StreamPosition).next().value!;
    expect(again.index).toBe(8);
    expect(again.value.value_).toEqual(first[8]!.value.value_);
  });
});
