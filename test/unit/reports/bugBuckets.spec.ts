import { describe, expect, it } from 'vitest';
import { bugCounts, bugCountsLine, bugTally } from '../../../reports/bugBuckets.ts';

const listed = (scenarioId: string, finding: string | null = null) => ({ scenarioId, seed: 7, index: 1, result: 'results.jsonl:2', finding });

describe('bugTally', () => {
  it('should keep the cases of one signature together, in order, and mark signatures the corpus knows', () => {
    const t = bugTally(new Set(['old']));
    t.add('new', ['message'], listed('s7_1', 's7_1-host-k'));
    t.add('old', ['value'], listed('s7_2', 's7_2-host-k'));
    t.add('new', ['message', 'value'], listed('s7_3'));
    const bugs = t.bugs();
    expect(bugs).toEqual({
      new: { kinds: ['message', 'value'], seenBefore: false, cases: [listed('s7_1', 's7_1-host-k'), listed('s7_3')] },
      old: { kinds: ['value'], seenBefore: true, cases: [listed('s7_2', 's7_2-host-k')] },
    });
    // plain data: what summary.json holds reads back equal
    expect(JSON.parse(JSON.stringify(bugs))).toEqual(bugs);
    expect(bugCounts(bugs)).toEqual({ bugs: 2, new: 1, seenAgain: 1, cases: 3 });
    expect(bugCountsLine(bugs)).toBe('2 bugs (1 new, 1 seen again) in 3 failing cases');
  });
});
