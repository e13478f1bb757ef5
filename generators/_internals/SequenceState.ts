import type { GlobalVar, Op, Program, Slot, StructType, VarDecl, VarType } from '../../types/index.ts';

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

/**
 * Abstract handle states of kernel-semantics §1.3, as the generators track them (a coarser copy of the verifier's
 * view, used only to choose legal next ops; the oracle has its own model).
 * - `own?`/`own`: an acquired reference (NEW or XCHG result) before/after its NULL check
 * - `rcu?`/`rcu`: a non-owning per-CPU pointer (LOAD in an RCU CS, or an XCHG source converted in an RCU CS)
 * - `elem?`/`elem`: a CPU's element from bpf_per_cpu_ptr (may be NULL) / bpf_this_cpu_ptr
 * - `untr?`/`untr`: untrusted (LOAD outside an RCU CS in a sleepable program; MEM_RCU pointers after the outermost unlock)
 * - `dead`: released or invalidated (a scalar for the verifier)
 * - `mapval`: the map value (or global container) holding a slot; never NULL (lookup returns early)
 * - `joined`: assigned inside an `if` block that has ended, or left behind by a refused op: unusable
 */
export type HandleState =
  | 'own?' | 'own' | 'rcu?' | 'rcu' | 'elem?' | 'elem' | 'untr?' | 'untr' | 'dead' | 'mapval' | 'joined';

/** A variable of the program and what the model knows of it (changed only by {@link SequenceState}'s transitions). */
export interface Handle {
  readonly name: string;
  readonly state: HandleState;
  /** pointee struct (null for a map value) */
  readonly struct: string | null;
  /** per-CPU object (bpf_percpu_obj_new kind) rather than a bpf_obj_new one */
  readonly percpu: boolean;
  /** the slot a map value holds */
  readonly slot: string | null;
  /** `if` nesting depth where the variable was assigned */
  readonly depth: number;
  /** a reference the program leaks on purpose (rule ref.leak): closing code leaves it alone */
  readonly leak: boolean;
}

type MutableHandle = { -readonly [K in keyof Handle]: Handle[K] };

const MAYBE_NULL: Partial<Record<HandleState, HandleState>> = { 'own?': 'own', 'rcu?': 'rcu', 'elem?': 'elem', 'untr?': 'untr' };

/** The non-NULL state a NULL check leads to, or null when the state is not maybe-NULL. */
export function checkedState(s: HandleState): HandleState | null {
  return MAYBE_NULL[s] ?? null;
}

/**
 * The ops and variable types programs write alike, made once and shared by every scenario: scenarios are plain data
 * nobody changes (frozen, to make sure), a batch holds its scenarios until they are checked, and these are a fifth
 * of a scenario's objects.
 */
const RCU_LOCK: Op = Object.freeze({ op: 'rcu_lock' });
const RCU_UNLOCK: Op = Object.freeze({ op: 'rcu_unlock' });
const RETURNS: readonly Op[] = [0, 1].map((value) => Object.freeze({ op: 'return', value }));
const VAR_TYPES = new Map<VarType['kind'], Map<string, VarType>>();

function returnOp(value: number): Op {
  return RETURNS[value] ?? { op: 'return', value };
}

/** The type of a variable holding `slot`'s map value (`map_value`), or an object of struct `name`. */
function varType(kind: VarType['kind'], name: string): VarType {
  let byName = VAR_TYPES.get(kind);
  if (byName === undefined) VAR_TYPES.set(kind, (byName = new Map()));
  const made = byName.get(name);
  if (made !== undefined) return made;
  const t: VarType = Object.freeze(kind === 'map_value' ? { kind, slot: name } : { kind, struct: name });
  byName.set(name, t);
  return t;
}

/** `v<i>`: the names of a program's variables, made once (every program declares v0, v1, ...). */
const VAR_NAMES: string[] = [];
function varName(i: number): string {
  return VAR_NAMES[i] ?? (VAR_NAMES[i] = `v${i}`);
}

/**
 * One program under construction: the ops written so far and the model of them (variables and their handle states,
 * the bpf_rcu_read_lock depth, the `if` depth, the result globals, the license). It changes only through its
 * transitions, one per op kind (`lookup`, `newObj`, `xchg`, `load`, `perCpu`, `nullExit`, `drop`, `rcuLock`, ...), each
 * writing its op(s) and moving the model on as the verifier would; commands (validCommands.ts, breakVariants.ts)
 * check the queries and call the transitions. One instance lives for one build (the build stays a pure function).
 * Queries run several times per generated op, so they walk the handles without allocating.
 */
export class SequenceState {
  readonly sleepable: boolean;
  /** the plain `__kptr` slots, whose pointees a `new` may allocate as plain objects */
  readonly plainSlots: readonly Slot[];
  /** the handles in declaration order (index i is variable `v<i>`): a few dozen at most, found by a walk (no map to build per program) */
  private readonly all: MutableHandle[] = [];
  /** the map values, in declaration order (the only handles ever in state `mapval`) */
  private readonly mapValues: MutableHandle[] = [];
  private readonly decls: VarDecl[] = [];
  private readonly results: GlobalVar[] = [];
  private readonly blocks: Op[][] = [[]];
  private rcu = 0;
  private depth = 0;
  private locked = false;
  private ops = 0;
  private licensed: Program['license'] = 'GPL';

  constructor(
    readonly ctx: ProgramContext,
    sleepable: boolean,
    private readonly firstGlobal: number,
  ) {
    this.sleepable = sleepable;
    this.plainSlots = ctx.slots.filter((s) => s.tag === 'kptr');
  }

  // ---- queries ---------------------------------------------------------------------------------------------

  get handles(): readonly Handle[] {
    return this.all;
  }

  /** bpf_rcu_read_lock nesting depth */
  get rcuDepth(): number {
    return this.rcu;
  }

  /** `if` nesting depth of the next op (0: top level) */
  get blockDepth(): number {
    return this.depth;
  }

  /** rule rcu.exit_locked: the final unlock is left out on purpose */
  get exitLocked(): boolean {
    return this.locked;
  }

  get license(): Program['license'] {
    return this.licensed;
  }

  /** ops written so far (an `if` counts with its body; a NULL check's cleanup counts too) */
  get opCount(): number {
    return this.ops;
  }

  /** `in_rcu_cs()`: non-sleepable programs always are; sleepable ones only under bpf_rcu_read_lock. */
  inRcu(): boolean {
    return !this.sleepable || this.rcu > 0;
  }

  handle(name: string): Handle {
    return this.mutable(name);
  }

  hasOwned(): boolean {
    for (const h of this.all) if (isOwned(h)) return true;
    return false;
  }

  /** The variable holding `slot`'s map value, if the program has one (looked up, and not used up by a break). */
  mapValueOf(slot: string): string | null {
    const mvs = this.mapValues;
    for (let i = 0; i < mvs.length; i++) {
      const h = mvs[i] as Handle;
      if (h.state === 'mapval' && h.slot === slot) return h.name;
    }
    return null;
  }

  slot(name: string): Slot {
    const s = this.ctx.slots.find((x) => x.name === name);
    if (s === undefined) throw new Error(`SequenceState: unknown slot ${name}`);
    return s;
  }

  /**
   * Whether a lookup of `slot` at top level, outside any RCU section, is valid here. A cgroup storage's owner
   * (task->cgroups->dfl_cgrp) is untrusted outside an RCU critical section in a sleepable program
   * (local_storage.untrusted_owner), and inside one the lookup's own `return 0` would leave it locked (rcu.exit_locked):
   * a sleepable program never looks one up validly.
   */
  validLookup(slot: Slot): boolean {
    return !(this.sleepable && slot.home.kind === 'cgrp_storage');
  }

  /** Whether `s` is a slot `h` may legally be exchanged into: its kind and struct, and the program holds its map value. */
  isHome(s: Slot, h: Handle): boolean {
    return s.pointee === h.struct && (s.tag === 'percpu_kptr') === h.percpu && this.mapValueOf(s.name) !== null;
  }

  /** Whether the program so far is only the lookups of its slots (it calls no helper or kfunc of its own yet). */
  onlyLookups(): boolean {
    return (this.blocks[0] ?? []).every((o) => o.op === 'lookup');
  }

  /** The program written so far (exact-size copies of the pushed-to lists: a program lives as long as its case). */
  program(name: string, progType: Program['progType']): Program {
    return { name, progType, license: this.licensed, vars: this.decls.slice(), ops: (this.blocks[0] ?? []).slice() };
  }

  /** The result globals the program's `read`/`sum` ops write. */
  get globals(): readonly GlobalVar[] {
    return this.results;
  }

  // ---- transitions: each writes its op(s) and moves the model on ------------------------------------------

  /** bpf_map_lookup_elem (or the global, or the local storage) of `slot`: its map value, never NULL afterwards. */
  lookup(slot: string): string {
    const dst = this.declare(varType('map_value', slot), 'mapval', null, false, slot);
    this.mapValues.push(this.mutable(dst));
    this.emit({ op: 'lookup', slot, dst });
    return dst;
  }

  /** bpf_percpu_obj_new / bpf_obj_new: an owned reference, maybe NULL. */
  newObj(struct: string, percpu: boolean): string {
    const dst = this.declare(varType(percpu ? 'percpu' : 'plain', struct), 'own?', struct, percpu, null);
    this.emit({ op: 'new', dst, struct, percpu });
    return dst;
  }

  /** new, NULL check: an owned, non-NULL object. */
  freshOwn(struct: string, percpu: boolean): string {
    const v = this.newObj(struct, percpu);
    this.nullExit(v);
    return v;
  }

  /** `if (!v) { release everything else; unlock; return 0; }` and v is non-NULL afterwards. */
  nullExit(v: string): void {
    const h = this.mutable(v);
    // the live references but v (except deliberate leaks) released, the rcu lock dropped: sized up front, as the
    // branch lives as long as its program
    const all = this.all;
    let n = this.rcu + 1;
    for (let i = 0; i < all.length; i++) if (all[i] !== h && isOwned(all[i] as Handle)) n++;
    const cleanup = new Array<Op>(n);
    let k = 0;
    for (let i = 0; i < all.length; i++) if (all[i] !== h && isOwned(all[i] as Handle)) cleanup[k++] = releaseOp(all[i] as Handle);
    for (let i = 0; i < this.rcu; i++) cleanup[k++] = RCU_UNLOCK;
    cleanup[k] = returnOp(0);
    this.emit({ op: 'if', var: v, is: 'null', then: cleanup });
    this.ops += cleanup.length;
    h.state = checkedState(h.state) ?? h.state;
  }

  /** Drop an acquired reference in its current state (`if (v)` first when it may be NULL). */
  release(v: string): void {
    const h = this.mutable(v);
    this.emit(releaseOp(h));
    h.state = 'dead';
  }

  /** bpf_percpu_obj_drop / bpf_obj_drop, as given (a break may pass the wrong kind or a maybe-NULL pointer). */
  drop(v: string, percpu: boolean): void {
    this.emit({ op: 'drop', var: v, percpu });
    this.mutable(v).state = 'dead';
  }

  /**
   * bpf_kptr_xchg of `src` (or NULL) into `slot`: the old value is an owned reference, maybe NULL (not kept when
   * `keepResult` is false). The source is consumed; kernel-semantics §2 D: in an RCU CS an owned per-CPU source turns
   * into a non-owning RCU pointer.
   */
  xchg(slot: string, src: string | null, keepResult = true): string | null {
    const s = this.slot(slot);
    const pc = s.tag === 'percpu_kptr';
    const dst = keepResult
      ? this.declare(varType(pc ? 'percpu' : 'plain', s.pointee), 'own?', s.pointee, pc, null)
      : null;
    this.emit({ op: 'xchg', slot, src, dst });
    if (src !== null) {
      const h = this.mutable(src);
      h.state = this.inRcu() && h.percpu && pc && (h.state === 'own' || h.state === 'own?')
        ? (h.state === 'own' ? 'rcu' : 'rcu?') : 'dead';
    }
    return dst;
  }

  /** The offending bpf_kptr_xchg of a break: its source is gone afterwards (a map value stays a map value), the old value released. */
  refusedXchg(slot: string, src: string): void {
    const h = this.mutable(src);
    const prev = h.state;
    const old = this.xchg(slot, src);
    h.state = prev === 'mapval' ? 'mapval' : 'dead';
    if (old !== null) this.release(old);
  }

  /** A plain load of the `__percpu_kptr` field: MEM_RCU maybe-NULL in an RCU CS, untrusted outside one. */
  load(slot: string): string {
    const s = this.slot(slot);
    const pc = s.tag === 'percpu_kptr';
    const state = this.inRcu() ? 'rcu?' : 'untr?';
    const dst = this.declare(varType(pc ? 'percpu' : 'plain', s.pointee), state, s.pointee, pc, null);
    this.emit({ op: 'load', slot, dst });
    return dst;
  }

  /** A direct store into the kptr field (rule kptr.direct_store): the model does not follow it. */
  store(slot: string, src: string | null): void {
    this.emit({ op: 'store', slot, src });
  }

  /** bpf_per_cpu_ptr (a constant CPU: maybe NULL) / bpf_this_cpu_ptr (`'this'`: never NULL) of `src`. */
  perCpu(src: string, cpu: number | 'this'): string {
    const struct = this.mutable(src).struct ?? this.ctx.goodStructs[0] ?? 't0';
    const dst = this.declare(varType('plain', struct), cpu === 'this' ? 'elem' : 'elem?', struct, false, null);
    this.emit(cpu === 'this' ? { op: 'this_cpu_ptr', src, dst } : { op: 'per_cpu_ptr', src, cpu, dst });
    return dst;
  }

  write(v: string, field: string, value: string): void {
    this.emit({ op: 'write', ptr: v, field, value });
  }

  read(v: string, field: string): void {
    this.emit({ op: 'read', ptr: v, field, global: this.newGlobal() });
  }

  /** The field summed over every possible CPU's copy, into a new result global. */
  sum(v: string, field: string): void {
    this.emit({ op: 'sum', src: v, field, global: this.newGlobal() });
  }

  rcuLock(): void {
    this.emit(RCU_LOCK);
    this.rcu++;
  }

  /** bpf_rcu_read_unlock; the outermost one makes every MEM_RCU pointer PTR_UNTRUSTED. */
  rcuUnlock(): void {
    this.emit(RCU_UNLOCK);
    this.rcu--;
    if (this.rcu === 0) this.untrustRcu();
  }

  /** A bpf_rcu_read_unlock with no lock to match (rule rcu.unmatched_unlock): the model does not follow it. */
  unmatchedRcuUnlock(): void {
    this.emit(RCU_UNLOCK);
  }

  /** `return value;` at the end of the program. */
  exit(value: number): void {
    this.emit(returnOp(value));
  }

  /** `if (!v) { body; return 0; }` for a fresh maybe-NULL v: body sees v NULL (no other reference is live); v is checked after. */
  nullBranch(v: string, body: () => void): void {
    const h = this.mutable(v);
    const outer = h.state;
    this.blocks.push([]);
    this.depth++;
    body();
    this.depth--;
    const then = (this.blocks.pop() ?? []).concat(returnOp(0));
    this.emit({ op: 'if', var: v, is: 'null', then });
    // what the body did to v happened to NULL: the object the other path holds is still to release
    h.state = checkedState(outer) ?? outer;
  }

  /** `if (v) { body }`: v is non-NULL inside, the block releases what it acquired; what it assigns is unusable after it. */
  ifBlock(v: string, body: () => void): void {
    const h = this.mutable(v);
    const outer = h.state;
    const before = this.all.map((x) => x.state);
    this.blocks.push([]);
    this.depth++;
    h.state = checkedState(outer) ?? outer;
    body();
    for (const x of this.all) if ((x.state === 'own' || x.state === 'own?') && !x.leak && x.depth === this.depth) this.release(x.name);
    this.depth--;
    const then = (this.blocks.pop() ?? []).slice();
    this.emit({ op: 'if', var: v, is: 'nonnull', then });
    this.joinAfterBlock(before);
    h.state = outer;
  }

  /** End of program: release references, drop the rcu lock (unless a break keeps it on purpose). */
  closeAll(): void {
    // (releasing one changes no other's state)
    for (const h of this.all) if (isOwned(h)) this.release(h.name);
    while (this.rcu > 0 && !this.locked) this.rcuUnlock();
  }

  // ---- transitions of the model alone (what a break means to do) -------------------------------------------

  /** The program leaks `v` on purpose (rule ref.leak): closing code leaves it alone. */
  leak(v: string): void {
    this.mutable(v).leak = true;
  }

  /** What a refused op leaves behind is not for the valid steps that follow. */
  unusable(v: string): void {
    this.mutable(v).state = 'joined';
  }

  /** Rule rcu.exit_locked: the final unlock is left out on purpose. */
  exitWithRcuLock(): void {
    this.locked = true;
  }

  /** The program's license (a non-GPL one breaks kfunc.non_gpl or helper.gpl_only). */
  relicense(license: Program['license']): void {
    this.licensed = license;
  }

  // ---- private ---------------------------------------------------------------------------------------------

  private emit(op: Op): void {
    const top = this.blocks[this.blocks.length - 1];
    if (top === undefined) throw new Error('SequenceState: no open block');
    top.push(op);
    this.ops++;
  }

  private mutable(name: string): MutableHandle {
    const all = this.all;
    for (let i = 0; i < all.length; i++) if ((all[i] as MutableHandle).name === name) return all[i] as MutableHandle;
    throw new Error(`SequenceState: unknown variable ${name}`);
  }

  private declare(type: VarType, state: HandleState, struct: string | null, percpu: boolean, slot: string | null): string {
    const name = varName(this.decls.length);
    this.decls.push({ name, type });
    const h: MutableHandle = { name, state, struct, percpu, slot, depth: this.depth, leak: false };
    this.all.push(h);
    return name;
  }

  private newGlobal(): string {
    const name = `g${this.firstGlobal + this.results.length}`;
    this.results.push({ name, ctype: '__u64' });
    return name;
  }

  /** Outermost bpf_rcu_read_unlock: every MEM_RCU pointer becomes PTR_UNTRUSTED. */
  private untrustRcu(): void {
    for (const h of this.all) {
      if (h.state === 'rcu' || h.state === 'rcu?' || h.state === 'elem' || h.state === 'elem?') h.state = 'untr';
    }
  }

  /** After `if (v) { … }`: whatever the block assigned or changed differs between the paths. */
  private joinAfterBlock(before: readonly HandleState[]): void {
    this.all.forEach((h, i) => {
      const prev = before[i];
      if (prev === undefined) {
        h.state = h.state === 'dead' || h.state === 'own' || h.state === 'own?' ? 'dead' : 'joined';
      } else if (prev !== h.state) {
        h.state = 'joined';
      }
    });
  }
}

/** The op that releases an acquired reference in its current state (without touching the model). */
function releaseOp(h: Handle): Op {
  const drop: Op = { op: 'drop', var: h.name, percpu: h.percpu };
  return h.state === 'own?' ? { op: 'if', var: h.name, is: 'nonnull', then: [drop] } : drop;
}

function isOwned(h: Handle): boolean {
  return (h.state === 'own' || h.state === 'own?') && !h.leak;
}
