import type { MismatchKind } from '../types/index.ts';

/** A failing case as its bug lists it. */
export interface BugCase {
  readonly scenarioId: string;
  /** the campaign's seed and the case's index in its sequence (null for a corpus entry) */
  readonly seed: number | null;
  readonly index: number | null;
  /** where its full result is: `results.jsonl:<line>` (null when results.jsonl is not written) */
  readonly result: string | null;
  /** the finding directory written for it (findings/<id>), null for a case only listed */
  readonly finding: string | null;
}

/** The failing cases of one bug signature (reports/bugSignature.ts). */
export interface BugBucket {
  readonly kinds: readonly MismatchKind[];
  /** the signature was recorded with the regression corpus before this run: a bug seen again, not a new one */
  readonly seenBefore: boolean;
  /** in the order seen; the first (`--shrinks-per-bug N`: the first N) have a finding */
  readonly cases: readonly BugCase[];
}

/**
 * summary.json's `bugs`: keyed by signature, plain data, so merging the summaries of shards is a union (cases of the
 * same signature concatenated).
 */
export type Bugs = Readonly<Record<string, BugBucket>>;

/** Bugs counted as the campaign meets their cases. */
export interface BugTally {
  add(signature: string, kinds: readonly MismatchKind[], c: BugCase): void;
  bugs(): Bugs;
}

export function bugTally(known: ReadonlySet<string>): BugTally {
  const buckets: Record<string, { kinds: Set<MismatchKind>; cases: BugCase[] }> = {};
  return {
    add(signature, kinds, c) {
      const b = (buckets[signature] ??= { kinds: new Set(), cases: [] });
      for (const k of kinds) b.kinds.add(k);
      b.cases.push(c);
    },
    bugs: () => Object.fromEntries(Object.entries(buckets).map(([sig, b]) => [sig, {
      kinds: [...b.kinds].sort(), seenBefore: known.has(sig), cases: [...b.cases],
    }])),
  };
}

/** Bugs and failing cases counted apart: `3 bugs (2 new, 1 seen again) in 49 failing cases`. */
export function bugCounts(bugs: Bugs): { readonly bugs: number; readonly new: number; readonly seenAgain: number; readonly cases: number } {
  const all = Object.values(bugs);
  const seenAgain = all.filter((b) => b.seenBefore).length;
  return { bugs: all.length, new: all.length - seenAgain, seenAgain, cases: all.reduce((n, b) => n + b.cases.length, 0) };
}

export function bugCountsLine(bugs: Bugs): string {
  const n = bugCounts(bugs);
  return `${n.bugs} bug${n.bugs === 1 ? '' : 's'} (${n.new} new, ${n.seenAgain} seen again) in ${n.cases} failing case${n.cases === 1 ? '' : 's'}`;
}
