import type { GlobalVar, Op, ProgType, Program, Slot, StatePairTarget, StructType } from '../../types/index.ts';
import { isSleepable } from '../../types/index.ts';
import { checkedState, SequenceState, type Handle } from './SequenceState.ts';
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

/** A valid step (ProgramBuilder.validActions), run on its variable or slot. */
type Act =
  | 'nothing' | 'lookup' | 'new_percpu' | 'new_plain' | 'null_exit' | 'release' | 'if_block' | 'publish' | 'drop' | 'write'
  | 'read' | 'take' | 'publish_new' | 'load' | 'per_cpu_ptr' | 'this_cpu_ptr' | 'sum' | 'rcu_lock' | 'rcu_unlock';

/** Field paths per struct, shared by the programs of one scenario (one context). */
const FIELDS = new WeakMap<ProgramContext, Map<string, readonly FieldPath[]>>();

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
  private readonly notes: string[] = [];
  /** the plain `__kptr` slots, whose pointees a `new` may allocate as plain objects */
  private readonly plainSlots: readonly Slot[];
  private readonly acts: Act[] = [];
  private readonly actWeights: number[] = [];
  private readonly actArgs: (string | Slot | null)[] = [];
  private actCount = 0;
  license: Program['license'] = 'GPL';

  constructor(
    readonly ctx: ProgramContext,
    private readonly plan: ProgramPlan,
    firstGlobal: number,
  ) {
    this.st = new SequenceState(isSleepable(plan.progType), ctx.slots, firstGlobal);
    this.plainSlots = ctx.slots.filter((s) => s.tag === 'kptr');
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
    // exact-size copies of the pushed-to lists (which keep spare room): a program lives as long as its case
    const program: Program = {
      name: this.plan.name, progType: this.plan.progType, license: this.license,
      vars: this.st.decls.slice(), ops: (this.blocks[0] ?? []).slice(),
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

  /** Ends the choice stream: what follows is only the breaks still pending and the cleanup. */
  halt(): void {
    this.cursor = this.plan.choices.length;
  }

  /** Whether the program so far is only the lookups of its slots (it calls no helper or kfunc of its own yet). */
  onlyLookups(): boolean {
    return (this.blocks[0] ?? []).every((o) => o.op === 'lookup');
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
    let cache = FIELDS.get(this.ctx);
    if (cache === undefined) FIELDS.set(this.ctx, (cache = new Map()));
    let f = cache.get(struct);
    if (f === undefined) cache.set(struct, (f = scalarFieldPaths(this.ctx.structs, struct)));
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
    const dst = this.st.declare({ kind: 'map_value', slot }, 'mapval', null, false, slot);
    this.emit({ op: 'lookup', slot, dst });
    return dst;
  }

  newObj(struct: string, percpu: boolean): string {
    const dst = this.st.declare({ kind: percpu ? 'percpu' : 'plain', struct }, 'own?', struct, percpu, null);
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
    this.emit({ op: 'if', var: v, is: 'null', then: cleanup.slice() });
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
      ? this.st.declare({ kind: pc ? 'percpu' : 'plain', struct: s.pointee }, 'own?', s.pointee, pc, null)
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
    const dst = this.st.declare({ kind: pc ? 'percpu' : 'plain', struct: s.pointee }, state, s.pointee, pc, null);
    this.emit({ op: 'load', slot, dst });
    return dst;
  }

  perCpu(src: string, cpu: number | 'this'): string {
    const struct = this.st.handle(src).struct ?? this.ctx.goodStructs[0] ?? 't0';
    const dst = this.st.declare({ kind: 'plain', struct }, cpu === 'this' ? 'elem' : 'elem?', struct, false, null);
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
    const then = (this.blocks.pop() ?? []).concat({ op: 'return', value: 0 });
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
    for (const h of this.st.handles) if ((h.state === 'own' || h.state === 'own?') && !h.leak && h.depth === this.st.blockDepth) this.release(h.name);
    this.st.blockDepth--;
    const then = (this.blocks.pop() ?? []).slice();
    this.emit({ op: 'if', var: v, is: 'nonnull', then });
    this.st.joinAfterBlock(before);
    h.state = outer;
  }

  // ---- valid steps -----------------------------------------------------------------------------------------

  /** Slots a var of this kind/struct may legally be exchanged into (those whose map value the program holds). */
  private homesFor(v: string): Slot[] {
    return this.ctx.slots.filter((s) => this.isHome(s, this.st.handle(v)));
  }

  private isHome(s: Slot, h: Handle): boolean {
    return s.pointee === h.struct && (s.tag === 'percpu_kptr') === h.percpu && this.st.mapValueOf(s.name) !== null;
  }

  private addAction(act: Act, weight: number, arg: string | Slot | null): void {
    const i = this.actCount++;
    this.acts[i] = act;
    this.actWeights[i] = weight;
    this.actArgs[i] = arg;
  }

  /**
   * The ops legal now, with their weights, in a fixed order (the choice stream indexes this list), into
   * acts/actWeights/actArgs: a step is taken once per chosen op, so the list is data, not closures.
   */
  private validActions(): void {
    const st = this.st;
    // overwritten in place (truncating would give the arrays' room back and grow it again at every step)
    this.actCount = 0;
    // choice 0 does nothing: shrinking a choice towards 0 then deletes a step without reinterpreting the others
    this.addAction('nothing', 1, null);
    const top = st.blockDepth === 0;
    const depth = st.blockDepth;
    if (top && st.rcuDepth === 0 && !st.hasOwned()) {
      for (const s of this.ctx.slots) if (st.mapValueOf(s.name) === null && this.validLookup(s)) this.addAction('lookup', 4, s);
    }
    if (this.ctx.goodStructs.length > 0) {
      this.addAction('new_percpu', 2, null);
      if (this.plainSlots.length > 0) this.addAction('new_plain', 1, null);
    }
    for (const h of st.handles) {
      if (h.state === 'own?' && !h.leak && h.depth === depth) {
        this.addAction('null_exit', 4, h.name);
        this.addAction('release', 2, h.name);
      }
    }
    for (const h of st.handles) if ((h.state === 'rcu?' || h.state === 'elem?') && h.depth === depth) this.addAction('null_exit', 4, h.name);
    for (const h of st.handles) if (h.state === 'rcu?' || h.state === 'elem?') this.addAction('if_block', 4, h.name);
    for (const h of st.handles) {
      if (h.state !== 'own' || h.leak || h.depth !== depth) continue;
      if (this.ctx.slots.some((s) => this.isHome(s, h))) this.addAction('publish', 5, h.name);
      this.addAction('drop', 1, h.name);
      if (!h.percpu) {
        this.addAction('write', 2, h.name);
        this.addAction('read', 1, h.name);
      }
    }
    for (const s of this.ctx.slots) {
      if (st.mapValueOf(s.name) === null) continue;
      this.addAction('take', 1, s);
      if (this.ctx.goodStructs.includes(s.pointee)) this.addAction('publish_new', 3, s);
      if (s.tag === 'percpu_kptr' && st.inRcu()) this.addAction('load', 3, s);
    }
    for (const h of st.handles) {
      if (h.state !== 'rcu') continue;
      this.addAction('per_cpu_ptr', 3, h.name);
      this.addAction('this_cpu_ptr', 2, h.name);
      this.addAction('sum', 2, h.name);
    }
    for (const h of st.handles) {
      if (h.state !== 'elem') continue;
      this.addAction('write', 3, h.name);
      this.addAction('read', 2, h.name);
    }
    if (top && st.rcuDepth === 0 && !st.exitLocked) this.addAction('rcu_lock', st.sleepable ? 3 : 1, null);
    if (top && st.rcuDepth === 1 && !st.exitLocked) this.addAction('rcu_unlock', 1, null);
  }

  private runAction(act: Act, arg: string | Slot | null): void {
    const v = arg as string;
    const s = arg as Slot;
    switch (act) {
      case 'nothing': return;
      case 'lookup': this.lookup(s.name); return;
      case 'new_percpu': this.freshOwn(this.pickOf(this.ctx.goodStructs), true); return;
      case 'new_plain': this.freshOwn(this.pickOf(this.plainSlots).pointee, false); return;
      case 'null_exit': return this.nullExit(v);
      case 'release': return this.release(v);
      case 'if_block': return this.ifBlock(v, () => this.blockBody());
      case 'publish': return this.publish(v, this.pickOf(this.homesFor(v)).name);
      case 'drop': return this.drop(v, this.st.handle(v).percpu);
      case 'write': return this.write(v);
      case 'read': return this.read(v);
      case 'take': return this.release(this.xchg(s.name, null) as string);
      case 'publish_new': return this.publish(this.freshOwn(s.pointee, s.tag === 'percpu_kptr'), s.name);
      case 'load': this.load(s.name); return;
      case 'per_cpu_ptr': this.perCpu(v, this.pick(this.ctx.nrCpus)); return;
      case 'this_cpu_ptr': this.perCpu(v, 'this'); return;
      case 'sum': return this.sum(v);
      case 'rcu_lock': return this.rcuLock();
      case 'rcu_unlock': return this.rcuUnlock();
    }
  }

  /** xchg an owned object into its slot and release whatever was there. */
  private publish(v: string, slot: string): void {
    const old = this.xchg(slot, v);
    if (old !== null) this.release(old);
  }

  private step(): void {
    this.steps++;
    this.validActions();
    const weights = this.actWeights;
    const n = this.actCount;
    let total = 0;
    for (let i = 0; i < n; i++) total += weights[i] as number;
    // always consume one choice, so a state with a single legal op still moves the cursor on
    let c = (this.plan.choices[this.cursor++] ?? 0) % Math.max(total, 1);
    for (let i = 0; i < n; i++) {
      const w = weights[i] as number;
      // the lists are reused by the steps of an `if` body: take the action out before running it
      if (c < w) return this.runAction(this.acts[i] as Act, this.actArgs[i] ?? null);
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
