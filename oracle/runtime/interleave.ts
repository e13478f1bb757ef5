/**
 * Interleavings of two program runs on two CPUs (specs/ops/lifetime/concurrent.yaml). A run is a generator that
 * yields a SharedAccess just before it makes it; only accesses that may conflict with the other run's are points
 * where the other run may go first (accesses to locations one run alone touches, or that both only read, commute
 * with everything the other does). Every interleaving is reached by enumerating the choices made at those points,
 * depth first, each time replaying the whole schedule from the start. Pure.
 */

/** A memory access a run is about to make to state another run might share. */
export interface SharedAccess {
  /** what is accessed, statically: `slot <name> <copy>`, `sum <name> <copy>`, `elem <name>`, `global <name>`, `obj <struct> <field>` */
  readonly cls: string;
  readonly write: boolean;
  /** for an object's field: the object, so that one only its creating run can reach yet is no interleaving point */
  readonly obj: number | null;
}

/** Picks one of `n` ways to go on (n ≥ 2) at an interleaving point. */
export type Choose = (n: number) => number;

/** Interleavings enumerated per prediction at most: beyond this the outcomes are incomplete (Prediction.outcomesComplete). */
export const MAX_INTERLEAVINGS = 4096;

/**
 * Every result `run` gives over the choices it can be made to take, depth first from all-zero choices (so the first
 * result is the one of choosing 0 everywhere), with at most `cap` runs.
 */
export function enumerateChoices<T>(run: (choose: Choose) => T, cap: number = MAX_INTERLEAVINGS): { readonly results: T[]; readonly complete: boolean } {
  const results: T[] = [];
  let prefix: number[] = [];
  for (;;) {
    const taken: { choice: number; of: number }[] = [];
    results.push(run((n) => {
      const choice = prefix[taken.length] ?? 0;
      taken.push({ choice, of: n });
      return choice;
    }));
    // the next prefix: the last point with a way not yet taken, advanced
    let i = taken.length - 1;
    while (i >= 0 && taken[i]!.choice + 1 >= taken[i]!.of) i--;
    if (i < 0) return { results, complete: true };
    if (results.length >= cap) return { results, complete: false };
    prefix = [...taken.slice(0, i).map((t) => t.choice), taken[i]!.choice + 1];
  }
}

/** Which access classes the two runs may conflict on: both touch it and one writes. */
export function conflictingClasses(a: readonly SharedAccess[], b: readonly SharedAccess[]): ReadonlySet<string> {
  const out = new Set<string>();
  for (const x of a) {
    if (b.some((y) => y.cls === x.cls && (x.write || y.write))) out.add(x.cls);
  }
  return out;
}

/**
 * Runs the generators of two concurrent runs to their ends, interleaved at the accesses `point` says may conflict:
 * there, while both runs are live, `choose(2)` says which one makes its next access (and runs on to its next point).
 * Returns what each generator returned.
 */
export function interleave<R>(runs: readonly [Generator<SharedAccess, R>, Generator<SharedAccess, R>], point: (a: SharedAccess, run: 0 | 1) => boolean, choose: Choose): [R, R] {
  const done: (IteratorReturnResult<R> | null)[] = [null, null];
  advance(runs, done, point, 0);
  advance(runs, done, point, 1);
  while (done[0] === null || done[1] === null) {
    const next: 0 | 1 = done[0] !== null ? 1 : done[1] !== null ? 0 : (choose(2) as 0 | 1);
    advance(runs, done, point, next);
  }
  return [done[0]!.value, done[1]!.value];
}

/**
 * Runs `i` on to just before its next interleaving point, or to its end (then its result goes in `done`). A module
 * function, not a closure per interleave call: tsx names each named closure as it is made.
 */
function advance<R>(runs: readonly [Generator<SharedAccess, R>, Generator<SharedAccess, R>], done: (IteratorReturnResult<R> | null)[], point: (a: SharedAccess, run: 0 | 1) => boolean, i: 0 | 1): void {
  for (;;) {
    const r = runs[i].next();
    if (r.done) {
      done[i] = r;
      return;
    }
    if (point(r.value, i)) return;
  }
}
