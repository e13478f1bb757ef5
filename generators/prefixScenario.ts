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
  // each name is made once: a scenario names its dozen structs, slots, globals and programs some fifty times, and a
  // batch holds its scenarios until they are checked
  const prefixed = new Map<string, string>();
  const p = (name: string): string => {
    let q = prefixed.get(name);
    if (q === undefined) prefixed.set(name, (q = `${id}_${name}`));
    return q;
  };
  const member = (m: StructMember): StructMember => {
    switch (m.kind) {
      case 'struct': return { ...m, struct: p(m.struct) };
      case 'kptr': return { ...m, pointee: p(m.pointee) };
      default: return m;
    }
  };
  // a type shared by several variables (SequenceState makes each once) stays shared
  const types = new Map<VarType, VarType>();
  const varType = (t: VarType): VarType => {
    let q = types.get(t);
    if (q === undefined) types.set(t, (q = t.kind === 'map_value' ? { ...t, slot: p(t.slot) } : { ...t, struct: p(t.struct) }));
    return q;
  };
  const op = (o: Op): Op => {
    switch (o.op) {
      case 'lookup': case 'load': case 'store': return { ...o, slot: p(o.slot) };
      case 'xchg': return { ...o, slot: p(o.slot) };
      case 'new': return { ...o, struct: p(o.struct) };
      case 'if': return { ...o, then: o.then.map(op) };
      case 'read': case 'sum': return { ...o, global: p(o.global) };
      default: return o;
    }
  };
  const program = (g: Program): Program => ({ ...g, name: p(g.name), vars: g.vars.map((v) => ({ ...v, type: varType(v.type) })), ops: g.ops.map(op) });
  return {
    ...s,
    id,
    structs: s.structs.map((t) => ({ name: p(t.name), members: t.members.map(member) })),
    slots: s.slots.map((x) => ({ ...x, name: p(x.name), pointee: p(x.pointee) })),
    globals: s.globals.map((g) => ({ ...g, name: p(g.name) })),
    programs: s.programs.map(program),
    schedule: s.schedule.map((x): ScheduleStep => ('mapOp' in x ? { ...x, slot: p(x.slot) }
      : 'concurrent' in x ? { concurrent: [{ ...x.concurrent[0], program: p(x.concurrent[0].program) }, { ...x.concurrent[1], program: p(x.concurrent[1].program) }] }
      : !isRunStep(x) ? x : { ...x, program: p(x.program) })),
  };
}
