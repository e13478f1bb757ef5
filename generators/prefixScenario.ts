import type { Op, Program, Scenario, ScheduleStep, StructMember, VarType } from '../types/index.ts';
import { isRunStep } from '../types/index.ts';

/**
 * Rename every C identifier of a scenario that reaches file scope (structs, slots, globals, programs) to
 * `<id>_<name>`, and set the id: scenarios prefixed with distinct ids can share one .bpf.c. Locals (`v0`…) and
 * struct member names stay as they are.
 *
 * @remarks Since 0.1.0
 * @public
 */
export function prefixScenario(s: Scenario, id: string): Scenario {
  const p = new Prefixer(id);
  return {
    ...s,
    id,
    structs: s.structs.map((t) => ({ name: p.name(t.name), members: sharedMap(t.members, (m) => p.member(m)) })),
    slots: s.slots.map((x) => ({ ...x, name: p.name(x.name), pointee: p.name(x.pointee) })),
    globals: s.globals.map((g) => ({ ...g, name: p.name(g.name) })),
    programs: s.programs.map((g) => p.program(g)),
    schedule: s.schedule.map((x) => p.step(x)),
  };
}

/**
 * `xs` mapped by `f`, or `xs` itself when `f` keeps every element as it is: a list naming nothing to rename is shared,
 * as the elements are (scenarios are plain data nobody changes). Most structs are scalars only, and most NULL checks'
 * cleanups only drop, unlock and return.
 */
function sharedMap<T>(xs: readonly T[], f: (x: T) => T): readonly T[] {
  let out: T[] | null = null;
  for (let i = 0; i < xs.length; i++) {
    const x = xs[i] as T;
    const y = f(x);
    if (y !== x) (out ??= xs.slice())[i] = y;
  }
  return out ?? xs;
}

/**
 * What a renaming made of each key so far: keys and results side by side, found by a walk. A scenario has some six
 * names and as many variable types; a Map per scenario allocated and grew a hash table for each.
 */
class Renamed<K, V> {
  private readonly pairs: (K | V)[] = [];

  get(key: K): V | undefined {
    const pairs = this.pairs;
    for (let i = 0; i < pairs.length; i += 2) if (pairs[i] === key) return pairs[i + 1] as V;
    return undefined;
  }

  set(key: K, value: V): void {
    this.pairs.push(key, value);
  }
}

/**
 * The renaming of one scenario, as methods (a scenario is prefixed once per case: closures made per call cost more
 * than the renaming, tsx naming each one).
 */
class Prefixer {
  /** each name is made once: a scenario names its half-dozen structs, slots, globals and programs some fifty times,
   * and a batch holds its scenarios until they are checked */
  private readonly prefixed = new Renamed<string, string>();
  /** a type shared by several variables (SequenceState makes each once) stays shared */
  private readonly types = new Renamed<VarType, VarType>();

  constructor(private readonly id: string) {}

  name(name: string): string {
    let q = this.prefixed.get(name);
    if (q === undefined) this.prefixed.set(name, (q = `${this.id}_${name}`));
    return q;
  }

  member(m: StructMember): StructMember {
    switch (m.kind) {
      case 'struct': return { ...m, struct: this.name(m.struct) };
      case 'kptr': return { ...m, pointee: this.name(m.pointee) };
      default: return m;
    }
  }

  varType(t: VarType): VarType {
    let q = this.types.get(t);
    if (q === undefined) this.types.set(t, (q = t.kind === 'map_value' ? { ...t, slot: this.name(t.slot) } : { ...t, struct: this.name(t.struct) }));
    return q;
  }

  op(o: Op): Op {
    switch (o.op) {
      case 'lookup': case 'load': case 'store': return { ...o, slot: this.name(o.slot) };
      case 'xchg': return { ...o, slot: this.name(o.slot) };
      case 'new': return { ...o, struct: this.name(o.struct) };
      case 'if': {
        const then = sharedMap(o.then, (x) => this.op(x));
        return then === o.then ? o : { ...o, then };
      }
      case 'read': case 'sum': return { ...o, global: this.name(o.global) };
      default: return o;
    }
  }

  program(g: Program): Program {
    return { ...g, name: this.name(g.name), vars: g.vars.map((v) => ({ ...v, type: this.varType(v.type) })), ops: sharedMap(g.ops, (o) => this.op(o)) };
  }

  step(x: ScheduleStep): ScheduleStep {
    if ('mapOp' in x) return { ...x, slot: this.name(x.slot) };
    if ('concurrent' in x) return { concurrent: [{ ...x.concurrent[0], program: this.name(x.concurrent[0].program) }, { ...x.concurrent[1], program: this.name(x.concurrent[1].program) }] };
    return !isRunStep(x) ? x : { ...x, program: this.name(x.program) };
  }
}
