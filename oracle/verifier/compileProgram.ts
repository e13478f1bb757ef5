import { opKfuncs, type OpKfuncs, type Op, type Program, type Scenario } from '../../types/index.ts';

/**
 * One instruction of the oracle's flat program: an op, a NULL test with both targets, or an exit.
 * Flattening the nested `if`s gives each point of the program an index, which the depth-first walk uses to
 * prune (index, state) pairs it has already explored, like the verifier's state pruning.
 */
export type Insn =
  | { readonly k: 'op'; readonly op: Exclude<Op, { op: 'if' } | { op: 'return' }> }
  | { readonly k: 'branch'; readonly var: string; readonly onNull: number; readonly onNonNull: number }
  | { readonly k: 'exit'; readonly value: number };

const HASH_MAPS = new Set(['hash', 'lru_hash', 'percpu_hash', 'lru_percpu_hash']);

/**
 * Whether `bpf_map_lookup_elem` on this slot's map may return NULL as far as the verifier knows.
 * Array lookups with a constant in-range key are known non-NULL (verifier "eliding map lookup nullness", v6.14);
 * a global's address is never NULL; a local storage's get may return NULL.
 */
export function lookupMayFail(scenario: Scenario, slot: string): boolean {
  const s = scenario.slots.find((x) => x.name === slot);
  if (s === undefined || s.home.kind === 'global') return false;
  // bpf_{task,cgrp}_storage_get returns PTR_TO_MAP_VALUE_OR_NULL (the element may fail to be created)
  return s.home.kind !== 'map' || HASH_MAPS.has(s.home.mapType);
}

/** A program as the walk reads it: flat instructions, and every variable name its ops use numbered (PathState.vars). */
export interface CompiledProgram {
  readonly insns: readonly Insn[];
  readonly names: ReadonlyMap<string, number>;
  /** the kfunc groups its ops call (opKfuncs), each once: what libbpf must resolve for it (missingKfunc) */
  readonly kfuncs: readonly OpKfuncs[];
}

interface Emitting {
  readonly scenario: Scenario;
  readonly out: Insn[];
  /** the NULL branches after lookups, which go to the final exit */
  readonly toFinalExit: number[];
  readonly names: Map<string, number>;
  readonly kfuncs: OpKfuncs[];
}

/**
 * Flatten a program's ops; the last instruction is the implicit `return 0`, also the target of `if (!e) return 0;` after
 * lookups. predict compiles each program once and hands the result to the walk, missingKfunc and the run-time model
 * (no memo keyed by the program: a WeakMap entry per program costs more than flattening it).
 */
export function compileProgram(scenario: Scenario, program: Program): CompiledProgram {
  const e: Emitting = { scenario, out: [], toFinalExit: [], names: new Map(), kfuncs: [] };
  emit(e, program.ops);
  const { out } = e;
  const finalExit = out.length;
  out.push({ k: 'exit', value: 0 });
  for (const i of e.toFinalExit) {
    const b = out[i];
    if (b?.k === 'branch') out[i] = { ...b, onNull: finalExit };
  }
  return { insns: out, names: e.names, kfuncs: e.kfuncs };
}

function emit(e: Emitting, ops: readonly Op[]): void {
  const { out } = e;
  for (const op of ops) {
    number(e, op);
    const k = opKfuncs(op);
    if (k !== null && !e.kfuncs.includes(k)) e.kfuncs.push(k);
    switch (op.op) {
      case 'if': {
        const at = out.length;
        out.push({ k: 'exit', value: 0 }); // placeholder, patched below
        emit(e, op.then);
        const after = out.length;
        out[at] = op.is === 'null'
          ? { k: 'branch', var: op.var, onNull: at + 1, onNonNull: after }
          : { k: 'branch', var: op.var, onNull: after, onNonNull: at + 1 };
        break;
      }
      case 'return':
        out.push({ k: 'exit', value: op.value });
        break;
      case 'lookup':
        out.push({ k: 'op', op });
        if (lookupMayFail(e.scenario, op.slot)) {
          e.toFinalExit.push(out.length);
          out.push({ k: 'branch', var: op.dst, onNull: -1, onNonNull: out.length + 1 });
        }
        break;
      default:
        out.push({ k: 'op', op });
    }
  }
}

/** Numbers the variables `op` names, assigned or only read. */
function number(e: Emitting, op: Op): void {
  switch (op.op) {
    case 'lookup': case 'new': case 'load': add(e.names, op.dst); break;
    case 'xchg': add(e.names, op.src); add(e.names, op.dst); break;
    case 'store': add(e.names, op.src); break;
    case 'drop': case 'if': add(e.names, op.var); break;
    case 'per_cpu_ptr': case 'this_cpu_ptr': add(e.names, op.src); add(e.names, op.dst); break;
    case 'write': case 'read': add(e.names, op.ptr); break;
    case 'sum': add(e.names, op.src); break;
    default: break;
  }
}

function add(names: Map<string, number>, name: string | null): void {
  if (name !== null && !names.has(name)) names.set(name, names.size);
}
