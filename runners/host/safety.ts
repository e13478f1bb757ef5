import type { Op, Program, RunPlan, Scenario, VarType } from '../../types/index.ts';
import { fieldCType } from '../../compile/codegen/fieldCType.ts';
import { isRunStep, isSleepable } from '../../types/index.ts';

/** The gate's answer for one program of a scenario. */
export interface HostGateVerdict {
  readonly program: string;
  readonly allowed: boolean;
  readonly reason: string;
}

/**
 * Host-safety gate (ARCHITECTURE.md, "Host-safety contract"): may this program be executed on the host kernel?
 *
 * The host kernel is shared with everything else on the machine, and accepted programs have corrupted it
 * (a bpf_obj_new object kptr_xchg'd into a __percpu_kptr field: WARNING in memalloc.c __free_by_rcu, see
 * ENVIRONMENT.md). So execution needs every one of: execution requested, intent `valid`, the oracle's
 * expectedAccepted and wellFormed, the kernel's own acceptance, and this module's structural walk of the
 * Scenario, which trusts neither the oracle nor the verifier. Default deny: anything not recognised as safe
 * is refused, with the reason.
 */
export function hostExecutionGate(
  scenario: Scenario,
  plan: RunPlan,
  accepted: ReadonlySet<string>,
  nrCpus: number,
): HostGateVerdict[] {
  const scenarioProblem = checkScenario(scenario, plan);
  return scenario.programs.map((p) => {
    const reason =
      scenarioProblem ??
      (!plan.expectedAccepted.includes(p.name) ? 'the oracle does not expect the kernel to accept it' : null) ??
      (!accepted.has(p.name) ? 'the kernel did not accept it' : null) ??
      checkProgram(scenario, p, nrCpus);
    return reason === null
      ? { program: p.name, allowed: true, reason: 'predicted and observed accepted; structurally well-formed' }
      : { program: p.name, allowed: false, reason };
  });
}

/**
 * Why the host runner must not try `s` at all, or null. The maps' free with live objects (a `free_maps` step) and the owner's exit (`owner_exit`) are VM
 * only: the kernel releases the objects from workqueues and RCU callbacks after the harness has moved on, where a
 * bug splats outside any case on the kernel everyone here shares, and the memory oracle that judges the step needs
 * per-CPU counters nothing else moves (the host's are shared with every process and noisy). Two runs at once (a
 * `concurrent` step) are VM only too: a race the kernel gets wrong corrupts what both CPUs share.
 */
export function hostRefusesScenario(s: Scenario): string | null {
  if (s.schedule.some((st) => 'free_maps' in st)) return 'free_maps runs in a VM only (the map free path and the memory oracle)';
  if (s.schedule.some((st) => 'concurrent' in st)) return 'concurrent steps run in a VM only (two programs racing on shared state)';
  // the same for the storage an owner frees when it goes (from RCU callbacks and workqueues, after the harness moved on)
  return s.schedule.some((st) => 'owner_exit' in st) ? 'owner_exit runs in a VM only (the local storage free path and the memory oracle)' : null;
}

/**
 * May the scenario's userspace map operations run on the host? They release what the slots hold, so they need what
 * a program run needs of the scenario (well-formed, every slot a __percpu_kptr of scalars), and every program of
 * the schedule allowed by `gate`: then whatever a slot holds came from a run this gate let through. Null when
 * allowed, else why not.
 */
export function hostMapOpGate(scenario: Scenario, plan: RunPlan, gate: readonly HostGateVerdict[]): string | null {
  const problem = checkScenario(scenario, plan);
  if (problem !== null) return problem;
  for (const st of scenario.schedule) {
    if ('mapOp' in st) {
      if (scenario.slots.find((x) => x.name === st.slot)?.home.kind !== 'map') return `slot ${st.slot} is not kept in a map`;
      continue;
    }
    if (!isRunStep(st)) continue;
    const g = gate.find((x) => x.program === st.program);
    if (g === undefined || !g.allowed) return `program ${st.program} of the schedule may not run here`;
  }
  return null;
}

function checkScenario(s: Scenario, plan: RunPlan): string | null {
  if (!plan.execute) return 'execution not requested (verify only)';
  if (s.intent.kind !== 'valid') return `intent is ${s.intent.kind}, not valid`;
  if (!plan.wellFormed) return 'the oracle does not consider the scenario well-formed';
  for (const slot of s.slots) {
    if (slot.tag !== 'percpu_kptr') return `slot ${slot.name} is a ${slot.tag} field, not __percpu_kptr`;
    const why = scalarOnly(s, slot.pointee);
    if (why) return `slot ${slot.name}: ${why}`;
  }
  return null;
}

/** bpf_percpu_obj_new is only known-good for structs of scalars (and nested structs of scalars). */
function scalarOnly(s: Scenario, struct: string, depth = 0): string | null {
  const t = s.structs.find((x) => x.name === struct);
  if (!t) return `struct ${struct} is not defined`;
  if (depth > 8) return `struct ${struct} nests too deeply`;
  for (const m of t.members) {
    if (m.kind === 'struct') {
      const why = scalarOnly(s, m.struct, depth + 1);
      if (why) return why;
    } else if (m.kind !== 'scalar') {
      return `struct ${struct} has a ${m.kind} member ${m.name}`;
    }
  }
  return null;
}

type Origin =
  /** an owned per-CPU object: bpf_percpu_obj_new, or taken out of a slot by bpf_kptr_xchg */
  | 'percpu_obj'
  /** a non-owning per-CPU pointer loaded from a slot (RCU protected) */
  | 'kptr_load'
  /** a `struct T *` element of a per-CPU object (bpf_per_cpu_ptr / bpf_this_cpu_ptr) */
  | 'elem'
  | 'map_value';

type NullState = 'nonnull' | 'maybe_null' | 'null';

interface VarState {
  readonly origin: Origin;
  readonly nullness: NullState;
  /** derived from a kptr_load: dies with the RCU read section in sleepable programs */
  readonly underRcu: boolean;
}

/** Program state: absent var = never assigned, `released` = ownership gone (dropped, xchg'd in) or merged inconsistently. */
type Env = ReadonlyMap<string, VarState | 'released'>;

class Unsafe extends Error {}

interface Walk {
  readonly s: Scenario;
  readonly prog: Program;
  readonly nrCpus: number;
}

function checkProgram(s: Scenario, prog: Program, nrCpus: number): string | null {
  try {
    const end = walkOps({ s, prog, nrCpus }, prog.ops, { env: new Map(), rcu: 0, returned: false }, 'ops');
    if (!end.returned && end.rcu !== 0) throw new Unsafe('the program ends inside bpf_rcu_read_lock');
    return null;
  } catch (e) {
    if (e instanceof Unsafe) return `${prog.name}: ${e.message}`;
    throw e;
  }
}

interface State {
  readonly env: Env;
  readonly rcu: number;
  /** every path through here has returned */
  readonly returned: boolean;
}

function walkOps(w: Walk, ops: readonly Op[], start: State, path: string): State {
  let st = start;
  ops.forEach((op, i) => {
    if (st.returned) throw new Unsafe(`${path}[${i}] (${op.op}) is unreachable`);
    st = step(w, op, st, `${path}[${i}] (${op.op})`);
  });
  return st;
}

function declType(w: Walk, name: string, at: string): VarType {
  const d = w.prog.vars.find((v) => v.name === name);
  if (!d) throw new Unsafe(`${at}: ${name} is not declared`);
  return d.type;
}

/** A var used as a pointer: assigned, not released, NULL-checked, of the wanted origin. */
function use(w: Walk, env: Env, name: string, origins: readonly Origin[], at: string): VarState {
  const v = env.get(name);
  if (v === undefined) throw new Unsafe(`${at}: ${name} is used before it is assigned`);
  if (v === 'released') throw new Unsafe(`${at}: ${name} is used after its reference was released`);
  if (v.nullness !== 'nonnull') throw new Unsafe(`${at}: ${name} is used without a NULL check`);
  if (!origins.includes(v.origin)) throw new Unsafe(`${at}: ${name} (${v.origin}) is not a ${origins.join(' or ')}`);
  return v;
}

function percpuStruct(w: Walk, name: string, at: string): string {
  const t = declType(w, name, at);
  if (t.kind !== 'percpu') throw new Unsafe(`${at}: ${name} is not declared as a __percpu_kptr pointer`);
  return t.struct;
}

function assign(env: Env, name: string, v: VarState): Env {
  return new Map(env).set(name, v);
}

function step(w: Walk, op: Op, st: State, at: string): State {
  const { env } = st;
  switch (op.op) {
    case 'lookup': {
      const slot = w.s.slots.find((x) => x.name === op.slot);
      if (!slot) throw new Unsafe(`${at}: slot ${op.slot} does not exist`);
      const t = declType(w, op.dst, at);
      if (t.kind !== 'map_value' || t.slot !== op.slot) throw new Unsafe(`${at}: ${op.dst} is not a map value of ${op.slot}`);
      // codegen returns 0 when the lookup fails, so the value pointer is never NULL afterwards
      return { ...st, env: assign(env, op.dst, { origin: 'map_value', nullness: 'nonnull', underRcu: false }) };
    }
    case 'new': {
      if (!op.percpu) throw new Unsafe(
          `${at}: bpf_obj_new (non-per-CPU) objects never run on the host (one kptr_xchg'd into a __percpu_kptr field corrupted the host allocator)`,
        );
      const why = scalarOnly(w.s, op.struct);
      if (why) throw new Unsafe(`${at}: ${why}`);
      if (percpuStruct(w, op.dst, at) !== op.struct) throw new Unsafe(`${at}: ${op.dst} is not a struct ${op.struct} pointer`);
      return { ...st, env: assign(env, op.dst, { origin: 'percpu_obj', nullness: 'maybe_null', underRcu: false }) };
    }
    case 'xchg': {
      const slot = w.s.slots.find((x) => x.name === op.slot);
      if (!slot) throw new Unsafe(`${at}: slot ${op.slot} does not exist`);
      let next = env;
      if (op.src !== null) {
        use(w, env, op.src, ['percpu_obj'], at);
        if (percpuStruct(w, op.src, at) !== slot.pointee) {
          throw new Unsafe(`${at}: ${op.src} is not a per-CPU struct ${slot.pointee} object`);
        }
        // Inside an RCU read section the published object stays valid until the section ends (its free is
        // RCU-deferred), so the source lives on as a non-owning pointer, as in upstream test_array_map_10.
        const inRcu = !isSleepable(w.prog.progType) || st.rcu > 0;
        const srcState = env.get(op.src) as VarState;
        next = new Map(next).set(op.src, inRcu ? { ...srcState, origin: 'kptr_load', underRcu: true } : 'released');
      }
      if (op.dst !== null) {
        if (percpuStruct(w, op.dst, at) !== slot.pointee) throw new Unsafe(`${at}: ${op.dst} does not match slot ${slot.name}`);
        next = assign(next, op.dst, { origin: 'percpu_obj', nullness: 'maybe_null', underRcu: false });
      }
      return { ...st, env: next };
    }
    case 'drop': {
      if (!op.percpu) throw new Unsafe(`${at}: bpf_obj_drop on a per-CPU object`);
      use(w, env, op.var, ['percpu_obj'], at);
      return { ...st, env: new Map(env).set(op.var, 'released') };
    }
    case 'load': {
      const slot = w.s.slots.find((x) => x.name === op.slot);
      if (!slot) throw new Unsafe(`${at}: slot ${op.slot} does not exist`);
      if (isSleepable(w.prog.progType) && st.rcu === 0) throw new Unsafe(`${at}: kptr load outside bpf_rcu_read_lock in a sleepable program`);
      if (percpuStruct(w, op.dst, at) !== slot.pointee) throw new Unsafe(`${at}: ${op.dst} does not match slot ${slot.name}`);
      return { ...st, env: assign(env, op.dst, { origin: 'kptr_load', nullness: 'maybe_null', underRcu: true }) };
    }
    case 'store':
      throw new Unsafe(`${at}: direct store into a kptr field`);
    case 'per_cpu_ptr':
    case 'this_cpu_ptr': {
      const src = use(w, env, op.src, ['percpu_obj', 'kptr_load'], at);
      if (op.op === 'per_cpu_ptr' && !(Number.isInteger(op.cpu) && op.cpu >= 0 && op.cpu < w.nrCpus)) {
        throw new Unsafe(`${at}: cpu ${op.cpu} is not below nr_cpus ${w.nrCpus}`);
      }
      const dt = declType(w, op.dst, at);
      if (dt.kind !== 'plain' || dt.struct !== percpuStruct(w, op.src, at)) {
        throw new Unsafe(`${at}: ${op.dst} is not a plain pointer to the struct of ${op.src}`);
      }
      // bpf_per_cpu_ptr returns NULL for an out-of-range cpu; bpf_this_cpu_ptr never does
      const nullness: NullState = op.op === 'per_cpu_ptr' ? 'maybe_null' : 'nonnull';
      return { ...st, env: assign(env, op.dst, { origin: 'elem', nullness, underRcu: src.underRcu }) };
    }
    case 'write':
    case 'read': {
      const v = env.get(op.ptr);
      if (v !== undefined && v !== 'released' && v.origin !== 'elem' && v.origin !== 'map_value') {
        throw new Unsafe(`${at}: direct ${op.op} through the per-CPU pointer ${op.ptr}`);
      }
      use(w, env, op.ptr, ['elem'], at);
      const t = declType(w, op.ptr, at);
      if (t.kind !== 'plain') throw new Unsafe(`${at}: ${op.ptr} is not a plain pointer`);
      const why = scalarField(w.s, t.struct, op.field);
      if (why) throw new Unsafe(`${at}: ${why}`);
      if (op.op === 'read' && !w.s.globals.some((g) => g.name === op.global)) throw new Unsafe(`${at}: global ${op.global} is not declared`);
      if (op.op === 'write' && !/^-?\d+$/.test(op.value)) throw new Unsafe(`${at}: value ${op.value} is not an integer constant`);
      return st;
    }
    case 'sum': {
      use(w, env, op.src, ['percpu_obj', 'kptr_load'], at);
      const why = scalarField(w.s, percpuStruct(w, op.src, at), op.field);
      if (why) throw new Unsafe(`${at}: ${why}`);
      if (!w.s.globals.some((g) => g.name === op.global)) throw new Unsafe(`${at}: global ${op.global} is not declared`);
      return st;
    }
    case 'rcu_lock':
      return { ...st, rcu: st.rcu + 1 };
    case 'rcu_unlock': {
      if (st.rcu === 0) throw new Unsafe(`${at}: bpf_rcu_read_unlock without a lock`);
      const rcu = st.rcu - 1;
      if (rcu > 0 || !isSleepable(w.prog.progType)) return { ...st, rcu };
      // leaving the read section ends every pointer that was only valid inside it
      const next = new Map(env);
      for (const [k, v] of env) if (v !== 'released' && v.underRcu) next.set(k, 'released');
      return { env: next, rcu, returned: false };
    }
    case 'return':
      if (st.rcu !== 0) throw new Unsafe(`${at}: return inside bpf_rcu_read_lock`);
      return { ...st, returned: true };
    case 'if': {
      const v = env.get(op.var);
      if (v === undefined || v === 'released') throw new Unsafe(`${at}: ${op.var} is tested but not live`);
      const inside: NullState = op.is === 'nonnull' ? 'nonnull' : 'null';
      const outside: NullState = op.is === 'nonnull' ? 'null' : 'nonnull';
      const then = walkOps(w, op.then, { ...st, env: assign(env, op.var, { ...v, nullness: inside }) }, `${at}.then`);
      const skipped: State = { ...st, env: assign(env, op.var, { ...v, nullness: outside }) };
      return join(then, skipped, at);
    }
  }
}

/** State after an `if`: a path that returned does not reach the join. */
function join(a: State, b: State, at: string): State {
  if (a.returned) return b;
  if (b.returned) return a;
  if (a.rcu !== b.rcu) throw new Unsafe(`${at}: the branches leave different bpf_rcu_read_lock depths`);
  const env = new Map<string, VarState | 'released'>();
  for (const k of new Set([...a.env.keys(), ...b.env.keys()])) {
    const x = a.env.get(k);
    const y = b.env.get(k);
    if (x === undefined || y === undefined || x === 'released' || y === 'released' || x.origin !== y.origin) {
      env.set(k, 'released');
    } else {
      env.set(k, {
        origin: x.origin,
        nullness: x.nullness === y.nullness ? x.nullness : 'maybe_null',
        underRcu: x.underRcu || y.underRcu,
      });
    }
  }
  return { env, rcu: a.rcu, returned: false };
}

/** `c`, `arr[2]`, `inner.x`, `inner[1].y` must name one in-bounds scalar member (the same reading codegen uses). */
function scalarField(s: Scenario, struct: string, field: string): string | null {
  const r = fieldCType(s.structs, struct, field);
  return 'error' in r ? `field ${field} is not a scalar member of struct ${struct}: ${r.error}` : null;
}
