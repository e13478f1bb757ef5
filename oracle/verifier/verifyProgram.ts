import { opKfuncs, type FeatureName, type Op, type Program, type StatePairOp, type StatePairState } from '../../types/index.ts';
import type { CompiledProgram } from './compileProgram.ts';
import type { RuleHit } from './rules.ts';
import { Explored, initialState, type PathState } from './state.ts';
import { pairOf, type ReachedPair } from './statePairs.ts';
import { newTransition, transfer, type VerifyContext } from './transfer.ts';

/** What the abstract verifier concluded about one program. */
export interface ProgramVerdict {
  /** errors in the order the walk met them: the first is the one the kernel reports; empty means accepted */
  readonly errors: readonly RuleHit[];
  /** reasons the program is not well-formed (unchecked pointer use, CPU constant out of range) */
  readonly malformed: readonly string[];
  /**
   * the (op, handle state) pairs the walk reached until the kernel's first error (that op's included): the verifier
   * stops there, so later paths count for nothing
   */
  readonly pairs: readonly { readonly op: StatePairOp; readonly state: StatePairState }[];
}

/** Upper bound on explored (instruction, state) pairs; generated programs stay far below it. */
const MAX_VISITS = 20_000;

/** The first op, nested ones after their `if`, that calls a kfunc; null if none does. */
function firstKfuncOp(ops: readonly Op[]): Op | null {
  for (const o of ops) {
    if (opKfuncs(o) !== null) return o;
    if (o.op === 'if') {
      const inner = firstKfuncOp(o.then);
      if (inner !== null) return inner;
    }
  }
  return null;
}


/**
 * The kfunc that makes libbpf refuse the whole object on this kernel, or null. The generated C declares kfuncs as
 * strong `__ksym` externs, so one unresolved extern fails `bpf_object__load` for every program of the scenario;
 * libbpf reports the first of its name-sorted extern list.
 */
export function missingKfunc(programs: readonly CompiledProgram[], features: Readonly<Record<FeatureName, boolean>>): string | null {
  let first: string | null = null;
  // the kfuncs each program calls, found when it was flattened (the walk needs it flat anyway)
  for (const p of programs) {
    for (const k of p.kfuncs) {
      if (!features[k.feature]) for (const name of k.names) if (first === null || name < first) first = name;
    }
  }
  return first;
}

/**
 * Checks that do not depend on the path: the object fails in libbpf (a kfunc the kernel lacks), then a non-GPL
 * license calling any kfunc (`add_kfunc_call` refuses it in the pass over all instructions that precedes verification),
 * then a sleepable program on an attach target that does not take one.
 */
function programChecks(ctx: VerifyContext, program: Program): RuleHit | null {
  if (ctx.missingKfunc !== null && ctx.applies('kfunc.absent')) return { ruleId: 'kfunc.absent', params: { kfunc: ctx.missingKfunc } };
  const first = program.license === 'Proprietary' ? firstKfuncOp(program.ops) : null;
  if (first && ctx.applies('kfunc.non_gpl')) return { ruleId: 'kfunc.non_gpl', params: { kfunc: opKfuncs(first)!.names[0]! } };
  // every fentry program attaches to bpf_fentry_test1 (ARCHITECTURE.md); check_attach_btf_id runs before do_check
  if (program.progType === 'fentry.s' && !ctx.features.sleepable_fentry_test1 && ctx.applies('attach.not_sleepable')) {
    return { ruleId: 'attach.not_sleepable', params: { target: 'bpf_fentry_test1' } };
  }
  return null;
}

/** The same rule with the same params (all strings), in the same order. */
function sameHit(a: RuleHit, b: RuleHit): boolean {
  if (a.ruleId !== b.ruleId) return false;
  const keys = Object.keys(a.params);
  const other = Object.keys(b.params);
  if (keys.length !== other.length) return false;
  for (let i = 0; i < keys.length; i++) {
    const k = keys[i] as string;
    if (k !== other[i] || a.params[k] !== b.params[k]) return false;
  }
  return true;
}

/**
 * Walk every path of the program depth-first, the fall-through (non-NULL) successor first, as the verifier does.
 * A path stops at its first error; the walk goes on with the other pending paths to collect the alternatives.
 */
export function verifyProgram(ctx: VerifyContext): ProgramVerdict {
  const pre = programChecks(ctx, ctx.program);
  if (pre) return { errors: [pre], malformed: [], pairs: [] };
  const { insns, names } = ctx.compiled;
  const errors: RuleHit[] = [];
  // a program has a handful of each at most: kept in arrays, deduplicated by a scan
  const malformed: string[] = [];
  const seen = new Explored(insns.length);
  const pairs: ReachedPair[] = [];
  // the pending paths: their pcs and states, popped together
  const pcs: number[] = [0];
  const states: PathState[] = [initialState(names)];
  const t = newTransition();
  while (pcs.length > 0 && seen.size < MAX_VISITS) {
    const pc = pcs.pop() as number;
    const state = states.pop() as PathState;
    if (!seen.add(pc, state)) continue;
    const insn = insns[pc];
    if (!insn) continue;
    const pair = insn.k === 'op' && errors.length === 0 ? pairOf(insn.op, state) : null;
    if (pair !== null && !pairs.includes(pair)) pairs.push(pair);
    transfer(ctx, pc, insn, state, t);
    for (const m of t.malformed) if (!malformed.includes(m)) malformed.push(m);
    if (t.error) {
      const err = t.error;
      if (!errors.some((e) => sameHit(e, err))) errors.push(err);
      continue;
    }
    // the last successor goes on the stack first: the first is explored first
    while (t.pcs.length > 0) {
      pcs.push(t.pcs.pop() as number);
      states.push(t.states.pop() as PathState);
    }
  }
  return { errors, malformed, pairs };
}
