import type { GlobalVar, Op, ProgType, Program, Slot, StatePairTarget, StructType } from '../../types/index.ts';
import { isSleepable } from '../progType.ts';
import { checkedState, SequenceState } from './SequenceState.ts';
import { scalarFieldPaths, scalarMax, type FieldPath } from './structLayout.ts';
import { breakVariants } from './breakVariants.ts';
import { reachPair } from './targetPairs.ts';

/** What every program of a scenario may refer to. */
export interface ProgramContext {
  readonly structs: readonly StructType[];
  readonly slots: readonly Slot[];
  /** structs bpf_percpu_obj_new / bpf_obj_new accept (scalar-only, at most 512 bytes): the only ones valid ops allocate */
  readonly goodStructs: readonly string[];
  /** per percpu_obj_new.* rule id, the struct its break allocates (too big, pointer, special field) */
  readonly badStructs: Readonly<Record<string, string>>;
  readonly nrCpus: number;
  /** budget of chosen ops per program (closing ops come on top) */
  readonly maxOps: number;
}

/** One deliberate rule break: which rule, after how many chosen steps, which variant (modulo the applicable ones). */
export interface BreakPlan {
  readonly rule: string;
  readonly at: number;
  readonly variant: number;
}

/** The data a program is built from; every field shrinks (fewer choices = a shorter program). */
export interface ProgramPlan {
  readonly name: string;
  readonly progType: ProgType;
  readonly choices: readonly number[];
  readonly breaks: readonly BreakPlan[];
  /** skip a break no variant of which applies here (mixtures), instead of failing */
  readonly lenient: boolean;
  /** a state pair to reach first (its program type is the plan's); a forbidden one is the program's break */
  readonly target?: StatePairTarget;
}

export interface BuiltProgram {
  readonly program: Program;
  readonly globals: readonly GlobalVar[];
  /** `rule/variant` of each break performed, for the scenario description */
  readonly notes: readonly string[];
}

type Action = readonly [weight: number, run: () => void];

/**
 * Interprets a list of small integers as a program: each choice selects one of the ops legal in the current
 * {@link SequenceState} (weighted), parameters take the following choices, and the end of the list closes the
 * program (references released, rcu lock dropped). Shrinking the choices therefore shrinks the program and every
 * prefix stays valid. Breaks are spliced in at top level and then the build continues validly.
 */
export class ProgramBuilder {
  readonly st: SequenceState;
  private readonly blocks: Op[][] = [[]];
  private cursor = 0;
  private opCount = 0;
  private steps = 0;
  private readonly fieldCache = new Map<string, readonly FieldPath[]>();
  private readonly notes: string[] = [];
  license: Program['license'] = 'GPL';

  constructor(
    readonly ctx: ProgramContext,
    private readonly plan: ProgramPlan,
    firstGlobal: number,
  ) {
    this.st = new SequenceState(isSleepable(plan.progType), ctx.slots, firstGlobal);
  }

  build(): BuiltProgram {
    const pending = [...this.plan.breaks].sort((a, b) => a.at - b.at);
    const target = this.plan.target;
    if (pending.length > 0 || target !== undefined) for (const s of this.ctx.slots) if (this.validLookup(s)) this.lookup(s.name);
    if (target !== undefined) {
      reachPair(this, target);
      this.notes.push(`target ${target.op} ${target.state}`);
    }
    while (this.cursor < this.plan.choices.length && this.opCount < this.ctx.maxOps) {
      while (pending.length > 0 && (pending[0]?.at ?? 0) <= this.steps) this.doBreak(pending.shift() as BreakPlan);
      this.step();
    }
    for (const b of pending) this.doBreak(b);
    this.closeAll();
    if ((this.plan.progType === 'tc' || this.plan.progType === 'syscall') && this.pick(5) === 1) {
      this.emit({ op: 'return', value: 1 });
    }
    const program: Program = {
      name: this.plan.name, progType: this.plan.progType, license: this.license,
      vars: this.st.decls, ops: this.blocks[0] ?? [],
    };
    return { program, globals: this.st.globals, notes: this.notes };
  }

  // ---- choice stream -------------------------------------------------------------------------------------

  /** Next choice modulo n (0 once the list is exhausted, which is also what shrinking tends to). */
  pick(n: number): number {
    if (n <= 1) return 0;
    const c = this.plan.choices[this.cursor++] ?? 0;
    return c % n;
  }

  pickOf<T>(xs: readonly T[]): T {
    const x = xs[this.pick(xs.length)];
    if (x === undefined) throw new Error('ProgramBuilder.pickOf: empty list');
    return x;
  }

  emit(op: Op): void {
    const top = this.blocks[this.blocks.length - 1];
    if (top === undefined) throw new Error('ProgramBuilder: no open block');
    top.push(op);
    this.opCount++;
  }

  fields(struct: string): readonly FieldPath[] {
    let f = this.fieldCache.get(struct);
    if (f === undefined) {
      f = scalarFieldPaths(this.ctx.structs, struct);
      this.fieldCache.set(struct, f);
    }
    return f;
  }

  /**
   * Whether a lookup of `slot` at top level, outside any RCU section, is valid here. A cgroup storage's owner
   * (task->cgroups->dfl_cgrp) is untrusted outside an RCU critical section in a sleepable program
   * (local_storage.untrusted_owner), and inside one the lookup's own `return 0` would leave it locked (rcu.exit_locked):
   * a sleepable program never looks one up validly.
   */
  validLookup(slot: Slot): boolean {
    return !(this.st.sleepable && slot.home.kind === 'cgrp_storage');
  }

  // ---- primitive ops, each updating the model ------------------------------------------------------------

  lookup(slot: string): string {
    const dst = this.st.declare({ kind: 'map_value', slot }, { state: 'mapval', struct: null, percpu: false, slot });
    this.emit({ op: 'lookup', slot, dst });
    return dst;
  }

  newObj(struct: string, percpu: boolean): string {
    const dst = this.st.declare({ kind: percpu ? 'percpu' : 'plain', struct }, { state: 'own?', struct, percpu, slot: null });
    this.emit({ op: 'new', dst, struct, percpu });
    return dst;
  }

  /** `if (!v) { release everything else; unlock; return 0; }` and v is non-NULL afterwards. */
  nullExit(v: string): void {
    const h = this.st.handle(v);
    const cleanup: Op[] = [];
    for (const o of this.st.owned()) {
      if (o === v) continue;
      cleanup.push(...this.releaseOps(o));
    }
    for (let i = 0; i < this.st.rcuDepth; i++) cleanup.push({ op: 'rcu_unlock' });
    cleanup.push({ op: 'return', value: 0 });
    this.emit({ op: 'if', var: v, is: 'null', then: cleanup });
    this.opCount += cleanup.length;
    h.state = checkedState(h.state) ?? h.state;
  }

  /** The ops that release an acquired reference in its current state (without touching the model). */
  releaseOps(v: string): Op[] {
    const h = this.st.handle(v);
    const drop: Op = { op: 'drop', var: v, percpu: h.percpu };
    return h.state === 'own?' ? [{ op: 'if', var: v, is: 'nonnull', then: [drop] }] : [drop];
  }

  release(v: string): void {
    for (const op of this.releaseOps(v)) this.emit(op);
    this.st.handle(v).state = 'dead';
  }

  drop(v: string, percpu: boolean): void {
    this.emit({ op: 'drop', var: v, percpu });
    this.st.handle(v).state = 'dead';
  }

  xchg(slot: string, src: string | null, keepResult = true): string | null {
    const s = this.st.slot(slot);
    const pc = s.tag === 'percpu_kptr';
    const dst = keepResult
      ? this.st.declare({ kind: pc ? 'percpu' : 'plain', struct: s.pointee }, { state: 'own?', struct: s.pointee, percpu: pc, slot: null })
      : null;
    this.emit({ op: 'xchg', slot, src, dst });
    if (src !== null) {
      const h = this.st.handle(src);
      // kernel-semantics §2 D: in an RCU CS an owned per-CPU source turns into a non-owning RCU pointer
      h.state = this.st.inRcu() && h.percpu && pc && (h.state === 'own' || h.state === 'own?')
        ? (h.state === 'own' ? 'rcu' : 'rcu?') : 'dead';
    }
    return dst;
  }

  load(slot: string): string {
    const s = this.st.slot(slot);
    const pc = s.tag === 'percpu_kptr';
    const state = this.st.inRcu() ? 'rcu?' : 'untr?';
    const dst = this.st.declare({ kind: pc ? 'percpu' : 'plain', struct: s.pointee }, { state, struct: s.pointee, percpu: pc, slot: null });
    this.emit({ op: 'load', slot, dst });
    return dst;
  }

  perCpu(src: string, cpu: number | 'this'): string {
    const struct = this.st.handle(src).struct ?? this.ctx.goodStructs[0] ?? 't0';
    const dst = this.st.declare({ kind: 'plain', struct }, { state: cpu === 'this' ? 'elem' : 'elem?', struct, percpu: false, slot: null });
    this.emit(cpu === 'this' ? { op: 'this_cpu_ptr', src, dst } : { op: 'per_cpu_ptr', src, cpu, dst });
    return dst;
  }

  /** A scalar field of the struct behind v (falls back to the first good struct for map values). */
  field(v: string): FieldPath {
    const h = this.st.handle(v);
    const struct = h.struct ?? (h.slot !== null ? this.st.slot(h.slot).pointee : null) ?? this.ctx.goodStructs[0] ?? 't0';
    return this.pickOf(this.fields(struct));
  }

  write(v: string): void {
    const f = this.field(v);
    const value = this.pick(4) === 3 ? scalarMax(f.ctype) : String(this.pick(100));
    this.emit({ op: 'write', ptr: v, field: f.path, value });
  }

  read(v: string): void {
    const f = this.field(v);
    this.emit({ op: 'read', ptr: v, field: f.path, global: this.st.newGlobal() });
  }

  sum(v: string): void {
    const f = this.field(v);
    this.emit({ op: 'sum', src: v, field: f.path, global: this.st.newGlobal() });
  }

  rcuLock(): void {
    this.emit({ op: 'rcu_lock' });
    this.st.rcuDepth++;
  }

  rcuUnlock(): void {
    this.emit({ op: 'rcu_unlock' });
    this.st.rcuDepth--;
    if (this.st.rcuDepth === 0) this.st.untrustRcu();
  }

  /** new, NULL check: an owned, non-NULL object. */
  freshOwn(struct: string, percpu: boolean): string {
    const v = this.newObj(struct, percpu);
    this.nullExit(v);
    return v;
  }

  /** `if (!v) { body; return 0; }` for a fresh maybe-NULL v: body sees v NULL (no other reference is live); v is checked after. */
  nullBranch(v: string, body: () => void): void {
    const h = this.st.handle(v);
    const outer = h.state;
    this.blocks.push([]);
    this.st.blockDepth++;
    body();
    this.st.blockDepth--;
    const then = [...(this.blocks.pop() ?? []), { op: 'return', value: 0 } as const];
    this.emit({ op: 'if', var: v, is: 'null', then });
    // what the body did to v happened to NULL: the object the other path holds is still to release
    h.state = checkedState(outer) ?? outer;
  }

  /** `if (v) { body }`: v is non-NULL inside; what the block assigns is unusable after it. */
  ifBlock(v: string, body: () => void): void {
    const h = this.st.handle(v);
    const outer = h.state;
    const before = this.st.snapshot();
    this.blocks.push([]);
    this.st.blockDepth++;
    h.state = checkedState(outer) ?? outer;
    body();
    for (const o of this.st.owned()) if (this.st.handle(o).depth === this.st.blockDepth) this.release(o);
    this.st.blockDepth--;
    const then = this.blocks.pop() ?? [];
    this.emit({ op: 'if', var: v, is: 'nonnull', then });
    this.st.joinAfterBlock(before);
    h.state = outer;
  }

  // ---- valid steps -----------------------------------------------------------------------------------------

  private atDepth(n: string): boolean {
    return this.st.handle(n).depth === this.st.blockDepth;
  }

  private slotsWithValue(pred: (s: Slot) => boolean = () => true): Slot[] {
    return this.ctx.slots.filter((s) => pred(s) && this.st.mapValueOf(s.name) !== null);
  }

  /** Slots a var of this kind/struct may legally be exchanged into. */
  private homesFor(v: string): Slot[] {
    const h = this.st.handle(v);
    return this.slotsWithValue((s) => s.pointee === h.struct && (s.tag === 'percpu_kptr') === h.percpu);
  }

  private validActions(): Action[] {
    const st = this.st;
    // choice 0 does nothing: shrinking a choice towards 0 then deletes a step without reinterpreting the others
    const acts: Action[] = [[1, () => undefined]];
    const top = st.blockDepth === 0;
    const plainSlots = this.ctx.slots.filter((s) => s.tag === 'kptr');
    if (top && st.rcuDepth === 0 && st.owned().length === 0) {
      for (const s of this.ctx.slots) if (st.mapValueOf(s.name) === null && this.validLookup(s)) acts.push([4, () => this.lookup(s.name)]);
    }
    if (this.ctx.goodStructs.length > 0) {
      acts.push([2, () => this.freshOwn(this.pickOf(this.ctx.goodStructs), true)]);
      if (plainSlots.length > 0) acts.push([1, () => this.freshOwn(this.pickOf(plainSlots).pointee, false)]);
    }
    for (const v of st.where((h, n) => h.state === 'own?' && !h.leak && this.atDepth(n))) {
      acts.push([4, () => this.nullExit(v)], [2, () => this.release(v)]);
    }
    for (const v of st.where((h, n) => (h.state === 'rcu?' || h.state === 'elem?') && this.atDepth(n))) {
      acts.push([4, () => this.nullExit(v)]);
    }
    for (const v of st.where((h) => h.state === 'rcu?' || h.state === 'elem?')) {
      acts.push([4, () => this.ifBlock(v, () => this.blockBody())]);
    }
    for (const v of st.where((h, n) => h.state === 'own' && !h.leak && this.atDepth(n))) {
      const homes = this.homesFor(v);
      if (homes.length > 0) acts.push([5, () => this.publish(v, this.pickOf(homes).name)]);
      acts.push([1, () => this.drop(v, st.handle(v).percpu)]);
      if (!st.handle(v).percpu) acts.push([2, () => this.write(v)], [1, () => this.read(v)]);
    }
    for (const s of this.slotsWithValue()) {
      acts.push([1, () => this.release(this.xchg(s.name, null) as string)]);
      if (this.ctx.goodStructs.includes(s.pointee)) {
        acts.push([3, () => this.publish(this.freshOwn(s.pointee, s.tag === 'percpu_kptr'), s.name)]);
      }
      if (s.tag === 'percpu_kptr' && st.inRcu()) acts.push([3, () => this.load(s.name)]);
    }
    for (const v of st.where((h) => h.state === 'rcu')) {
      acts.push(
        [3, () => this.perCpu(v, this.pick(this.ctx.nrCpus))],
        [2, () => this.perCpu(v, 'this')],
        [2, () => this.sum(v)],
      );
    }
    for (const v of st.where((h) => h.state === 'elem')) acts.push([3, () => this.write(v)], [2, () => this.read(v)]);
    if (top && st.rcuDepth === 0 && !st.exitLocked) acts.push([st.sleepable ? 3 : 1, () => this.rcuLock()]);
    if (top && st.rcuDepth === 1 && !st.exitLocked) acts.push([1, () => this.rcuUnlock()]);
    return acts;
  }

  /** xchg an owned object into its slot and release whatever was there. */
  private publish(v: string, slot: string): void {
    const old = this.xchg(slot, v);
    if (old !== null) this.release(old);
  }

  private step(): void {
    this.steps++;
    const acts = this.validActions();
    const total = acts.reduce((n, [w]) => n + w, 0);
    // always consume one choice, so a state with a single legal op still moves the cursor on
    let c = (this.plan.choices[this.cursor++] ?? 0) % Math.max(total, 1);
    for (const [w, run] of acts) {
      if (c < w) return run();
      c -= w;
    }
  }

  private blockBody(): void {
    const n = 1 + this.pick(3);
    for (let i = 0; i < n && this.cursor < this.plan.choices.length && this.opCount < this.ctx.maxOps; i++) this.step();
  }

  /** End of program: release references, drop the rcu lock (unless a break keeps it on purpose). */
  private closeAll(): void {
    for (const o of this.st.owned()) this.release(o);
    while (this.st.rcuDepth > 0 && !this.st.exitLocked) this.rcuUnlock();
  }

  private doBreak(b: BreakPlan): void {
    const variants = breakVariants(b.rule).filter((v) => v.applies(this));
    const v = variants[b.variant % Math.max(variants.length, 1)];
    if (v === undefined && this.plan.lenient) return;
    if (v === undefined) throw new Error(`ProgramBuilder: no variant of ${b.rule} applies to ${this.plan.progType}`);
    v.run(this);
    this.notes.push(`${b.rule}/${v.name}`);
  }
}

/** Build one program from its plan; `firstGlobal` numbers its result globals after the previous programs'. */
export function buildProgram(ctx: ProgramContext, plan: ProgramPlan, firstGlobal: number): BuiltProgram {
  return new ProgramBuilder(ctx, plan, firstGlobal).build();
}
