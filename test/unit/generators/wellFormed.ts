/**
 * An independent well-formedness walk for generated scenarios (shares no code with generators/): the property
 * "intent valid means well-formed and host-safe" is checked against this, not against the generator's own model.
 * Checks: pointers NULL-checked before use, per-CPU pointers only through per_cpu_ptr/this_cpu_ptr, CPU constants
 * below nrCpus, references released on every path, rcu lock balanced and not nested, sleepable loads under the
 * lock, RCU pointers not used after an unlock, drop kinds, xchg types, no direct store, GPL license,
 * allocatable structs only.
 */
import type { Op, Program, Scenario, StructType } from '../../../types/index.ts';

interface Var {
  /** mapval: map value; obj: new/xchg result (owned); rcu: non-owning per-CPU; elem: per_cpu_ptr/this_cpu_ptr result */
  kind: 'mapval' | 'obj' | 'rcu' | 'elem' | 'gone';
  percpu: boolean;
  struct: string | null;
  nonnull: boolean;
  /** live acquired reference */
  owned: boolean;
  /** the unlock count when obtained: an rcu/elem pointer dies at the next unlock */
  stamp: number;
}

interface PathState {
  vars: Map<string, Var>;
  depth: number;
  unlocks: number;
}

const clone = (p: PathState): PathState => ({ vars: new Map([...p.vars].map(([k, v]) => [k, { ...v }])), depth: p.depth, unlocks: p.unlocks });

const SIZES: Record<string, number> = { char: 1, __u8: 1, __s8: 1, short: 2, __u16: 2, __s16: 2, int: 4, __u32: 4, __s32: 4, long: 8, __u64: 8, __s64: 8 };

function layout(structs: readonly StructType[], name: string): { size: number; align: number; scalarsOnly: boolean } {
  const t = structs.find((x) => x.name === name);
  if (t === undefined) return { size: 0, align: 1, scalarsOnly: false };
  let off = 0; let align = 1; let scalarsOnly = true;
  for (const m of t.members) {
    let size = 8; let a = 8;
    if (m.kind === 'scalar') { a = SIZES[m.ctype] ?? 8; size = a * (m.count ?? 1); }
    else if (m.kind === 'struct') { const l = layout(structs, m.struct); a = l.align; size = l.size * (m.count ?? 1); scalarsOnly &&= l.scalarsOnly; }
    else { scalarsOnly = false; if (m.kind === 'spin_lock') { size = 4; a = 4; } }
    off = Math.ceil(off / a) * a + size;
    align = Math.max(align, a);
  }
  return { size: Math.ceil(off / align) * align, align, scalarsOnly };
}

/** Problems of one program (empty: well-formed). */
export function programProblems(s: Scenario, p: Program, nrCpus: number): string[] {
  const problems: string[] = [];
  const sleepable = p.progType === 'syscall' || p.progType === 'fentry.s';
  const inRcu = (st: PathState): boolean => !sleepable || st.depth > 0;
  if (p.license === 'Proprietary') problems.push(`${p.name}: non-GPL license`);
  const bad = (msg: string): void => { problems.push(`${p.name}: ${msg}`); };
  const usable = (st: PathState, name: string | null, what: string): Var | null => {
    if (name === null) { bad(`${what}: NULL`); return null; }
    const v = st.vars.get(name);
    if (v === undefined || v.kind === 'gone') { bad(`${what}: ${name} is not a live pointer`); return null; }
    if (!v.nonnull) bad(`${what}: ${name} used before its NULL check`);
    if ((v.kind === 'rcu' || v.kind === 'elem') && (v.stamp !== st.unlocks || !inRcu(st))) bad(`${what}: ${name} used outside its RCU section`);
    return v;
  };
  const exit = (st: PathState, where: string): void => {
    for (const [n, v] of st.vars) if (v.owned) bad(`${where}: reference ${n} not released`);
    if (st.depth !== 0) bad(`${where}: exit with rcu lock held`);
  };

  const walk = (ops: readonly Op[], st: PathState): boolean /* returned */ => {
    for (const op of ops) {
      switch (op.op) {
        case 'lookup': {
          if (st.depth > 0 || [...st.vars.values()].some((v) => v.owned)) bad('lookup (implicit return) with a reference or the lock held');
          // task->cgroups->dfl_cgrp outside an RCU section: an untrusted owner
          if (sleepable && s.slots.find((x) => x.name === op.slot)?.home.kind === 'cgrp_storage') bad(`lookup of cgroup storage ${op.slot} in a sleepable program`);
          st.vars.set(op.dst, { kind: 'mapval', percpu: false, struct: null, nonnull: true, owned: false, stamp: st.unlocks });
          break;
        }
        case 'new': {
          const l = layout(s.structs, op.struct);
          if (!l.scalarsOnly || l.size > 512 || l.size === 0) bad(`new of struct ${op.struct} that bpf_percpu_obj_new would refuse`);
          st.vars.set(op.dst, { kind: 'obj', percpu: op.percpu, struct: op.struct, nonnull: false, owned: true, stamp: st.unlocks });
          break;
        }
        case 'if': {
          const v = st.vars.get(op.var);
          if (v === undefined) { bad(`if on unknown ${op.var}`); break; }
          const inner = clone(st);
          const iv = inner.vars.get(op.var) as Var;
          if (op.is === 'null') {
            iv.owned = false; iv.kind = 'gone';
            if (!walk(op.then, inner)) bad(`if (!${op.var}) block does not return`);
            v.nonnull = true;
          } else {
            iv.nonnull = true;
            const returned = walk(op.then, inner);
            if (!returned) {
              // join with the NULL path, where op.var holds no reference
              const other = clone(st);
              (other.vars.get(op.var) as Var).owned = false;
              if (inner.depth !== other.depth) bad(`if (${op.var}) block changes the rcu depth`);
              for (const [n, x] of inner.vars) {
                const y = other.vars.get(n);
                if (x.owned !== (y?.owned ?? false)) bad(`reference ${n} released on one path of if (${op.var}) only`);
                if (n !== op.var && (y === undefined || JSON.stringify(x) !== JSON.stringify(y))) other.vars.set(n, { ...x, kind: 'gone', owned: false });
              }
              st.vars = other.vars;
            }
          }
          break;
        }
        case 'xchg': {
          const slot = s.slots.find((x) => x.name === op.slot);
          if (op.src !== null) {
            const v = usable(st, op.src, 'xchg source');
            if (v !== null) {
              if (v.kind !== 'obj' || !v.owned) bad(`xchg source ${op.src} is not an owned object`);
              if (v.struct !== slot?.pointee || v.percpu !== (slot?.tag === 'percpu_kptr')) bad(`xchg source ${op.src} does not match slot ${op.slot}`);
              const convert = v.percpu && inRcu(st);
              Object.assign(v, { owned: false, kind: convert ? 'rcu' : 'gone', stamp: st.unlocks });
            }
          }
          if (op.dst === null) bad('xchg result discarded');
          else st.vars.set(op.dst, { kind: 'obj', percpu: slot?.tag === 'percpu_kptr', struct: slot?.pointee ?? null, nonnull: false, owned: true, stamp: st.unlocks });
          break;
        }
        case 'drop': {
          const v = usable(st, op.var, 'drop');
          if (v !== null) {
            if (!v.owned) bad(`drop of ${op.var} which holds no reference`);
            if (v.percpu !== op.percpu) bad(`drop of ${op.var} with the wrong kind`);
            v.owned = false; v.kind = 'gone';
          }
          break;
        }
        case 'load': {
          if (!inRcu(st)) bad(`load of ${op.slot} outside an RCU section`);
          const slot = s.slots.find((x) => x.name === op.slot);
          if (slot?.tag !== 'percpu_kptr') bad(`load of a non-per-CPU slot ${op.slot}`);
          st.vars.set(op.dst, { kind: 'rcu', percpu: true, struct: slot?.pointee ?? null, nonnull: false, owned: false, stamp: st.unlocks });
          break;
        }
        case 'store': bad(`direct store to ${op.slot}`); break;
        case 'per_cpu_ptr':
        case 'this_cpu_ptr': {
          const v = usable(st, op.src, op.op);
          if (v !== null && v.kind !== 'rcu') bad(`${op.op} on ${op.src} which is not a non-owning per-CPU pointer`);
          if (op.op === 'per_cpu_ptr' && (op.cpu < 0 || op.cpu >= nrCpus)) bad(`per_cpu_ptr cpu ${op.cpu} >= nr_cpus ${nrCpus}`);
          st.vars.set(op.dst, { kind: 'elem', percpu: false, struct: v?.struct ?? null, nonnull: op.op === 'this_cpu_ptr', owned: false, stamp: st.unlocks });
          break;
        }
        case 'write':
        case 'read': {
          const v = usable(st, op.ptr, op.op);
          if (v !== null && !(v.kind === 'elem' || (v.kind === 'obj' && v.owned && !v.percpu))) bad(`${op.op} through ${op.ptr}, which is not a CPU element or a plain object`);
          break;
        }
        case 'sum': {
          const v = usable(st, op.src, 'sum');
          if (v !== null && v.kind !== 'rcu') bad(`sum over ${op.src} which is not a non-owning per-CPU pointer`);
          break;
        }
        case 'rcu_lock':
          if (st.depth > 0) bad('nested rcu lock');
          st.depth++;
          break;
        case 'rcu_unlock':
          if (st.depth === 0) bad('rcu unlock without lock');
          else st.depth--;
          if (st.depth === 0) st.unlocks++;
          break;
        case 'return':
          if (op.value !== 0 && p.progType.startsWith('fentry')) bad('fentry program returns non-zero');
          exit(st, 'return');
          return true;
      }
    }
    return false;
  };
  const st: PathState = { vars: new Map(), depth: 0, unlocks: 0 };
  if (!walk(p.ops, st)) exit(st, 'end');
  return problems;
}

/** Problems of a whole scenario: every program, plus schedule CPUs. */
export function scenarioProblems(s: Scenario, nrCpus: number): string[] {
  const out = s.programs.flatMap((p) => programProblems(s, p, nrCpus));
  s.schedule.forEach((x, i) => { if ('cpu' in x && x.cpu >= nrCpus) out.push(`schedule[${i}]: cpu ${x.cpu} >= nr_cpus`); });
  return out;
}
