import { opKfuncs, type Op, type Scenario } from '../../types/index.ts';

/** Adds the `__ksym` externs of kptr.h that the C emitted for `ops` calls (emitProgram.ts), nested ones included. */
function addExterns(ops: readonly Op[], out: Set<string>): void {
  for (const op of ops) {
    const k = opKfuncs(op);
    if (k !== null) for (const name of k.names) out.add(name);
    if (op.op === 'if') addExterns(op.then, out);
  }
}

/**
 * Every kfunc a scenario's generated C calls, name-sorted and without repeats (the harness's `kfuncs` plan line).
 * Loops into one Set rather than flatMap: every runner asks this of every scenario.
 */
export function scenarioKfuncs(s: Scenario): string[] {
  return batchKfuncs([s]);
}

/** Every kfunc the scenarios of one object call, name-sorted and without repeats (the object's `.ksyms` externs). */
export function batchKfuncs(scenarios: readonly Scenario[]): string[] {
  const out = new Set<string>();
  for (const s of scenarios) for (const p of s.programs) addExterns(p.ops, out);
  return [...out].sort();
}
