/**
 * The abstract state the oracle tracks per verification path (research/kernel-semantics.md §1.3).
 * One {@link Handle} per program variable; a reference (`ref_obj_id`) is shared by every copy of a handle.
 */

/**
 * Handle states of §1.3. A trailing `?` means PTR_MAYBE_NULL.
 * - `OWN`/`OWN?`: owning per-CPU object (MEM_ALLOC|MEM_PERCPU, ref N) from bpf_percpu_obj_new or an xchg result
 * - `PLAIN_OWN`/`PLAIN_OWN?`: owning bpf_obj_new object (MEM_ALLOC, ref N)
 * - `RCU`/`RCU?`: non-owning per-CPU pointer (MEM_PERCPU|MEM_RCU, ref 0)
 * - `ELEM`/`ELEM?`: one CPU's element from bpf_per_cpu_ptr/bpf_this_cpu_ptr (MEM_ALLOC|MEM_RCU)
 * - `UNTR_PCPU`, `UNTR_ELEM`: what the outermost bpf_rcu_read_unlock leaves of `RCU*` / `ELEM*`
 * - `UNTR_RAW`/`UNTR_RAW?`: a kptr load outside an RCU critical section (PTR_UNTRUSTED, no MEM_PERCPU)
 * - `DEAD`: released or invalidated (a scalar: the host has allow_ptr_leaks)
 * - `NULL`: known zero; `UNINIT`: never assigned
 * - `MAP_VALUE`/`MAP_VALUE?`: pointer to the map value (or global) holding a slot
 */
export type HandleState =
  | 'OWN?' | 'OWN' | 'PLAIN_OWN?' | 'PLAIN_OWN'
  | 'RCU?' | 'RCU' | 'ELEM?' | 'ELEM'
  | 'UNTR_PCPU' | 'UNTR_ELEM' | 'UNTR_RAW?' | 'UNTR_RAW'
  | 'DEAD' | 'NULL' | 'UNINIT' | 'MAP_VALUE?' | 'MAP_VALUE';

export interface Handle {
  readonly s: HandleState;
  /** BTF struct the pointer is typed with (null for scalars and map values) */
  readonly struct: string | null;
  /** `ref_obj_id`; 0 when the handle owns no reference */
  readonly ref: number;
  /** the slot a MAP_VALUE handle points at */
  readonly slot: string | null;
  /** set on the result of bpf_per_cpu_ptr: the one maybe-NULL pointer with a rule (and a kernel divergence) of its own */
  readonly perCpuResult?: true;
}

export interface PathState {
  readonly vars: Readonly<Record<string, Handle>>;
  /** acquired references still live on this path */
  readonly refs: readonly number[];
  /** bpf_rcu_read_lock nesting depth (`active_rcu_locks`) */
  readonly rcuDepth: number;
  /** the queued body of a `sum` loop, verified after the rest of the program (transfer.ts) */
  readonly inSumBody?: true;
}

export const UNINIT: Handle = { s: 'UNINIT', struct: null, ref: 0, slot: null };
export const NULL_HANDLE: Handle = { s: 'NULL', struct: null, ref: 0, slot: null };

/** The initial state of every program: no variables assigned, nothing acquired, no lock held. */
export function initialState(): PathState {
  return { vars: {}, refs: [], rcuDepth: 0 };
}

export function handleOf(state: PathState, name: string): Handle {
  return state.vars[name] ?? UNINIT;
}

export function isMaybeNull(h: Handle): boolean {
  return h.s.endsWith('?');
}

/** States whose value the verifier treats as an unknown scalar (both branches of a NULL test are possible). */
export function isScalar(h: Handle): boolean {
  return h.s === 'DEAD' || h.s === 'UNINIT' || h.s === 'NULL';
}

const PRINTED: Readonly<Record<HandleState, string>> = {
  'OWN?': 'percpu_ptr_or_null_',
  OWN: 'percpu_ptr_',
  'PLAIN_OWN?': 'ptr_or_null_',
  PLAIN_OWN: 'ptr_',
  'RCU?': 'percpu_rcu_ptr_or_null_',
  RCU: 'percpu_rcu_ptr_',
  'ELEM?': 'rcu_ptr_or_null_',
  ELEM: 'rcu_ptr_',
  UNTR_PCPU: 'percpu_untrusted_ptr_',
  UNTR_ELEM: 'untrusted_ptr_',
  'UNTR_RAW?': 'untrusted_ptr_or_null_',
  UNTR_RAW: 'untrusted_ptr_',
  DEAD: 'scalar',
  NULL: 'scalar',
  UNINIT: 'scalar',
  'MAP_VALUE?': 'map_value_or_null',
  MAP_VALUE: 'map_value',
};

/** The register type as the verifier prints it (`reg_type_str`, §1.1: MEM_ALLOC is never printed). */
export function printedType(h: Handle): string {
  return PRINTED[h.s];
}

export function withVar(state: PathState, name: string, h: Handle): PathState {
  return { ...state, vars: { ...state.vars, [name]: h } };
}

/** Apply `f` to every handle carrying reference `ref` (all copies of one register share its ref_obj_id). */
export function mapRef(state: PathState, ref: number, f: (h: Handle) => Handle): PathState {
  const vars: Record<string, Handle> = {};
  for (const [name, h] of Object.entries(state.vars)) vars[name] = h.ref === ref ? f(h) : h;
  return { ...state, vars };
}

/** Release an acquired reference: it no longer counts as live at exit. */
export function releaseRef(state: PathState, ref: number): PathState {
  return { ...state, refs: state.refs.filter((r) => r !== ref) };
}

/** Canonical text of a state, for pruning already-explored (insn, state) pairs. */
export function stateKey(state: PathState): string {
  // a hot path of the oracle (once per explored instruction): plain concatenation, no intermediate arrays
  const names = Object.keys(state.vars).sort();
  let key = '';
  for (let i = 0; i < names.length; i++) {
    const k = names[i]!;
    const h = state.vars[k]!;
    key += `${i > 0 ? ',' : ''}${k}=${h.s}:${h.struct ?? ''}:${h.ref}:${h.slot ?? ''}`;
  }
  return `${key}|${state.refs.join(',')}|${state.rcuDepth}${state.inSumBody ? '|body' : ''}`;
}
