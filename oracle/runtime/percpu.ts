import type {
  GlobalVar, KptrHome, MapBatchOpKind, MapOpCondition, MapOpContract, MapOpKind, MapOpResult, MapOpStep, MapType, MemoryPrediction, Op, Outcome, Program, Scenario,
  ScheduleStep, StepPrediction,
} from '../../types/index.ts';
import { endsHoldingNothing, isLocalStorage, isSleepable } from '../../types/index.ts';
import type { FieldSlot, StructLayout } from '../../cabi/structLayout.ts';
import { fieldOf, layoutOf } from '../layouts.ts';
import { hasSpinLock, LRU_MAP_TYPES, PERCPU_MAP_TYPES, SLOT_MAP_MAX_ENTRIES } from '../../cabi/slotMap.ts';
import { mapOpLock } from '../../types/index.ts';
import { cValue } from './cValue.ts';
import { type Choose, conflictingClasses, enumerateChoices, interleave, type SharedAccess } from './interleave.ts';
import type { Insn } from '../verifier/compileProgram.ts';

/**
 * Concrete execution of the run schedule (research/kernel-semantics.md §5): slot contents per map element (one
 * per CPU for per-CPU maps), per-CPU objects zeroed on every CPU, xchg returning the previous object,
 * bpf_per_cpu_ptr NULL for cpu >= nr_cpus, globals persisting across steps. A value read through an untrusted
 * pointer is not predictable and becomes null (and so does everything computed from it). Userspace map operations
 * follow specs/ops/map: an update or removal releases the element's object, a new element starts with a NULL field.
 */

interface SlotCopy { obj: number | null; sum: bigint }
/** one element: its copy per CPU index (index 0 only, for maps that are not per-CPU), each made when first reached */
type Element = (SlotCopy | undefined)[];
/** a slot's home: its elements by key (a global slot, and every array index, always has its element) */
interface SlotStore { readonly elems: Map<number, Element> }
interface HeapObject {
  readonly struct: string;
  /** per-CPU objects have one copy per possible CPU; a bpf_obj_new object has one */
  readonly copies: number;
  /** each copy's written fields by offset, made at the copy's first write (most copies are never written) */
  readonly cpus: (Map<number, bigint> | undefined)[];
  /** bpf_percpu_obj_new memory reads as zero on every CPU; a plain object's unwritten bytes are not predicted */
  readonly zeroed: boolean;
}

type Val =
  | { readonly k: 'obj'; readonly id: number; readonly rcu: boolean; readonly untrusted: boolean }
  | { readonly k: 'elem'; readonly id: number; readonly cpu: number; readonly untrusted: boolean }
  | { readonly k: 'map'; readonly slot: string }
  | null;

const HASH_MAPS: ReadonlySet<MapType> = new Set(['hash', 'lru_hash', 'percpu_hash', 'lru_percpu_hash']);
/** programs reach the element of this key (ARCHITECTURE.md, "Maps") */
const PROGRAM_KEY = 0;

interface World {
  readonly scenario: Scenario;
  readonly nrCpus: number;
  /** the scenario's struct layouts met so far (layoutOf), shared with the walks of its programs */
  readonly layouts: Map<string, StructLayout>;
  /** the scenario's access class texts (accessClass), shared by all its passes; null without concurrent steps */
  readonly classes: AccessClasses | null;
  readonly slots: Map<string, SlotStore>;
  readonly heap: HeapObject[];
  readonly globals: Map<string, bigint | null>;
  /** globals whose value includes a read of per-CPU memory no program wrote (StepPrediction.zeroFilled) */
  readonly zeroFilled: Set<string>;
  /**
   * the globals as the last step's StepPrediction shows them, until a global is set: the steps between share it
   * (most runs set none; predictions are plain data nobody writes)
   */
  shown: { readonly globals: Record<string, string | null>; readonly zeroFilled: string[] } | null;
}

/** A program the kernel accepted, with its flat instructions (compileProgram): what a run executes. */
export interface Runnable {
  readonly program: Program;
  readonly insns: readonly Insn[];
}

interface Run {
  readonly w: World;
  readonly insns: readonly Insn[];
  readonly cpu: number;
  readonly sleepable: boolean;
  readonly vars: Map<string, Val>;
  depth: number;
  /** another run goes at once (concurrentRuns): only then does exec yield its accesses */
  readonly shared: boolean;
  /**
   * objects this run allocated and has not yet put in a slot: no other run can reach them (kept for a shared run
   * only, null alone)
   */
  readonly fresh: Set<number> | null;
}

type AccessKind = 'slot' | 'sum' | 'obj' | 'elem' | 'global';
/** SharedAccess.cls texts by kind, name and number (-1: none) */
type AccessClasses = Readonly<Record<AccessKind, Map<string, Map<number, string>>>>;

/** What every pass over one scenario's schedule shares (runSchedule makes it once, not per pass). */
interface Passes {
  readonly scenario: Scenario;
  /** the programs the kernel accepted, by name (only those run) */
  readonly accepted: ReadonlyMap<string, Runnable>;
  readonly nrCpus: number;
  readonly contracts: readonly MapOpContract[];
  readonly layouts: Map<string, StructLayout>;
  /**
   * for a schedule with concurrent steps (null without: no run shares its CPU, nothing asks): the access class texts,
   * and each concurrent step's conflicting classes by step index, filled by the first pass that needs them
   */
  readonly concurrent: { readonly classes: AccessClasses; readonly conflicts: Map<number, ReadonlySet<string>> } | null;
}

/**
 * SharedAccess.cls: `${kind} ${name} ${n}` (or without n when -1), built once per scenario: a run sharing its CPU
 * yields one at every access of every pass, and conflicts.has hashes a text once, not a new one each time.
 */
function accessClass(w: World, kind: AccessKind, name: string, n: number): string {
  // asked only where runs share their CPU: the schedule has concurrent steps (Passes.concurrent)
  const byName = (w.classes as AccessClasses)[kind];
  let byN = byName.get(name);
  if (byN === undefined) byName.set(name, (byN = new Map()));
  let cls = byN.get(n);
  if (cls === undefined) byN.set(n, (cls = n < 0 ? `${kind} ${name}` : `${kind} ${name} ${n}`));
  return cls;
}

/** a loop: a scenario has a few slots (no Map of them per prediction) */
function homeOf(w: World, name: string): KptrHome | undefined {
  for (const s of w.scenario.slots) if (s.name === name) return s.home;
  return undefined;
}

function mapTypeOf(w: World, name: string): MapType | null {
  const home = homeOf(w, name);
  return home?.kind === 'map' ? home.mapType : null;
}

/** whether the slot's map value holds a bpf_spin_lock (KptrHome.spinLock) */
function slotHasSpinLock(w: World, name: string): boolean {
  const home = homeOf(w, name);
  return home !== undefined && hasSpinLock(home);
}

/** Whether a slot lives in the local storage of the run's owner (types/scenario.ts OwnerExitStep). */
function inLocalStorage(w: World, name: string): boolean {
  const home = homeOf(w, name);
  return home !== undefined && isLocalStorage(home);
}

function slotStore(w: World, name: string): SlotStore {
  let s = w.slots.get(name);
  if (!s) {
    const type = mapTypeOf(w, name);
    s = { elems: new Map() };
    // a local storage's element is created by the program's lookup (BPF_LOCAL_STORAGE_GET_F_CREATE)
    if ((type === null && !inLocalStorage(w, name)) || (type !== null && !HASH_MAPS.has(type))) {
      for (let key = 0; key < (type === null ? 1 : SLOT_MAP_MAX_ENTRIES); key++) s.elems.set(key, []);
    }
    w.slots.set(name, s);
  }
  return s;
}

/** The copy of an element a program on `cpu` sees: its own CPU's for per-CPU maps, the only one otherwise. */
function copyOf(w: World, name: string, e: Element, cpu: number): SlotCopy {
  const type = mapTypeOf(w, name);
  const index = type !== null && PERCPU_MAP_TYPES.has(type) ? cpu : 0;
  return (e[index] ??= { obj: null, sum: 0n });
}

/** The element copy of key 0 a program on `cpu` sees (its lookup made sure the element exists). */
function slotCopy(r: Run, name: string): SlotCopy {
  const store = slotStore(r.w, name);
  let e = store.elems.get(PROGRAM_KEY);
  if (!e) {
    e = [];
    store.elems.set(PROGRAM_KEY, e);
  }
  return copyOf(r.w, name, e, r.cpu);
}

/**
 * A hash map's element `key` inserted (a program's BPF_NOEXIST insert, or a userspace update), with NULL fields:
 * false when the map is full (an LRU map evicts its least recently used element instead).
 */
function insertElement(w: World, name: string, key: number): boolean {
  const store = slotStore(w, name);
  if (store.elems.has(key)) return true;
  if (store.elems.size >= SLOT_MAP_MAX_ENTRIES) {
    if (!LRU_MAP_TYPES.has(mapTypeOf(w, name) ?? '')) return false;
    evictLru(store);
  }
  store.elems.set(key, []);
  return true;
}

/** the LRU evicts its least recently used element (the first in `elems`) and releases its objects */
function evictLru(store: SlotStore): void {
  const [lru] = store.elems.keys();
  store.elems.delete(lru as number);
}

/**
 * A userspace update of an LRU map takes a node before it looks the key up (htab_lru_map_update_elem,
 * prealloc_lru_pop): when the map is full that evicts, even the element being updated, and the flags are then
 * checked against what is left. The per-CPU LRU map takes no node for BPF_EXIST (__htab_lru_percpu_map_update_elem).
 * With max_entries 1 there is one node, so which element goes is decided: the only one.
 */
function lruPop(w: World, slot: string, type: MapType, flags: string): void {
  const store = slotStore(w, slot);
  if (!LRU_MAP_TYPES.has(type) || store.elems.size < SLOT_MAP_MAX_ENTRIES) return;
  if (type === 'lru_percpu_hash' && flags === 'BPF_EXIST') return;
  evictLru(store);
}

function varOf(r: Run, name: string): Val {
  return r.vars.get(name) ?? null;
}

function globalOf(w: World, name: string): GlobalVar {
  const g = w.scenario.globals.find((x) => x.name === name);
  return g ?? { name, ctype: '__u64' };
}

/**
 * Where a field access through `v` lands: copy `cpu` of object `obj`, or the map value's `sum` (`copy`); null when
 * unpredictable. An element beyond the object's copies (bpf_per_cpu_ptr on a plain object) is no memory: obj null.
 */
function fieldTarget(r: Run, v: Val, field: string): { readonly obj: HeapObject | null; readonly cpu: number; readonly f: FieldSlot; readonly zeroed: boolean; readonly copy: SlotCopy | null } | null {
  if (v === null) return null;
  if (v.k === 'map') {
    if (field !== 'sum') return null;
    return { obj: null, cpu: 0, f: SUM_FIELD, zeroed: true, copy: slotCopy(r, v.slot) };
  }
  if (v.untrusted) return null;
  const o = r.w.heap[v.id] as HeapObject;
  const f = fieldOf(r.w.scenario.structs, o.struct, field);
  if (v.k === 'elem') return { obj: v.cpu < o.copies ? o : null, cpu: v.cpu, f, zeroed: o.zeroed, copy: null };
  // a direct access through an object pointer: only a plain bpf_obj_new object is real memory here
  return o.copies === 1 && !o.zeroed ? { obj: o, cpu: 0, f, zeroed: false, copy: null } : null;
}

/** a map value's `sum` as a field */
const SUM_FIELD: FieldSlot = { off: 0, ctype: 'long' };

/** A field's value, and whether it is the zero of never-written per-CPU memory. */
function readField(r: Run, v: Val, field: string): { readonly value: bigint | null; readonly zeroFilled: boolean } {
  const t = fieldTarget(r, v, field);
  if (t === null) return UNKNOWN_FIELD;
  if (t.copy) return { value: t.copy.sum, zeroFilled: false };
  const stored = t.obj?.cpus[t.cpu]?.get(t.f.off);
  if (stored !== undefined) return { value: stored, zeroFilled: false };
  return t.zeroed ? ZERO_FILLED_FIELD : UNKNOWN_FIELD;
}

const UNKNOWN_FIELD = { value: null, zeroFilled: false } as const;
const ZERO_FILLED_FIELD = { value: 0n, zeroFilled: true } as const;

function untrustRcu(r: Run): void {
  // forEach: for-of over a Map's entries makes an array per entry
  r.vars.forEach((v, name) => {
    if (v && (v.k === 'elem' || (v.k === 'obj' && v.rcu))) r.vars.set(name, { ...v, untrusted: true });
  });
}

function setGlobal(w: World, name: string, v: bigint | null, zeroFilled: boolean): void {
  w.shown = null;
  w.globals.set(name, v === null ? null : cValue(v, globalOf(w, name).ctype));
  if (zeroFilled && v !== null) w.zeroFilled.add(name);
  else w.zeroFilled.delete(name);
}

/** The copy index of a slot's element a program on `cpu` reaches: its own CPU's for per-CPU maps, else 0. */
function copyIndex(w: World, slot: string, cpu: number): number {
  const type = mapTypeOf(w, slot);
  return type !== null && PERCPU_MAP_TYPES.has(type) ? cpu : 0;
}

/** The shared access a field access through `v` makes (a map value's `sum`, or an object's field), or null. */
function fieldAccess(r: Run, v: Val, field: string, write: boolean): SharedAccess | null {
  if (v === null) return null;
  if (v.k === 'map') return { cls: accessClass(r.w, 'sum', v.slot, copyIndex(r.w, v.slot, r.cpu)), write, obj: null };
  const o = r.w.heap[v.id] as HeapObject;
  return { cls: accessClass(r.w, 'obj', o.struct, fieldOf(r.w.scenario.structs, o.struct, field).off), write, obj: v.id };
}

function globalAccess(w: World, name: string, write: boolean): SharedAccess {
  return { cls: accessClass(w, 'global', name, -1), write, obj: null };
}

/**
 * Execute a program (its flat instructions, compileProgram: one generator per run, none per `if`); returns its return
 * value (0 at the end: `return 0`). Yields each access to state another run may share just before making it
 * (oracle/runtime/interleave.ts), when another run goes at once (Run.shared): a run alone yields nothing. The ops'
 * effects are plain functions: the generator's frame holds only what lives across a yield.
 */
function* exec(r: Run): Generator<SharedAccess, number> {
  const { insns } = r;
  for (let pc = 0; ; pc++) {
    const insn = insns[pc] as Insn;
    if (insn.k === 'exit') return insn.value;
    if (insn.k === 'branch') {
      // an `if`'s NULL test, or `if (!e) return 0;` after a lookup (whose map value is never NULL here)
      pc = (varOf(r, insn.var) === null ? insn.onNull : insn.onNonNull) - 1;
      continue;
    }
    const o = insn.op;
    switch (o.op) {
      case 'lookup': {
        // a hash map's element is inserted at lookup (BPF_NOEXIST); in a full map the lookup fails: `return 0`
        if (r.shared && HASH_MAPS.has(mapTypeOf(r.w, o.slot) ?? 'array')) yield { cls: accessClass(r.w, 'elem', o.slot, -1), write: true, obj: null };
        if (!lookup(r, o)) return 0;
        break;
      }
      case 'new':
        allocate(r, o);
        break;
      case 'xchg':
        if (r.shared) yield slotAccess(r, o.slot, true);
        xchg(r, o);
        break;
      case 'drop':
        // bpf_mem_free_rcu: nothing the program can observe
        break;
      case 'load':
        if (r.shared) yield slotAccess(r, o.slot, false);
        load(r, o);
        break;
      case 'store':
        if (r.shared) yield slotAccess(r, o.slot, true);
        store(r, o);
        break;
      case 'per_cpu_ptr':
      case 'this_cpu_ptr':
        perCpuPtr(r, o);
        break;
      case 'write': {
        const a = r.shared ? fieldAccessOf(r, varOf(r, o.ptr), o.field, true) : null;
        if (a !== null) yield a;
        writeField(r, o);
        break;
      }
      case 'read': {
        const ptr = varOf(r, o.ptr);
        const a = r.shared ? fieldAccessOf(r, ptr, o.field, false) : null;
        if (a !== null) yield a;
        const f = readField(r, ptr, o.field);
        if (r.shared) yield globalAccess(r.w, o.global, true);
        setGlobal(r.w, o.global, f.value, f.zeroFilled);
        break;
      }
      case 'sum': {
        // `global += e->field` per CPU: a load of the field, then of the global, an add and a store (emitProgram.ts,
        // lowerProgram.ts), each of which another run may come between
        const src = varOf(r, o.src);
        for (let cpu = 0; cpu < r.w.nrCpus && src !== null && src.k === 'obj'; cpu++) {
          const elem: Val = { k: 'elem', id: src.id, cpu, untrusted: src.untrusted };
          const a = r.shared ? fieldAccessOf(r, elem, o.field, false) : null;
          if (a !== null) yield a;
          const f = readField(r, elem, o.field);
          if (r.shared) yield globalAccess(r.w, o.global, false);
          // an unpredictable global stays so; one never written is 0
          const before = r.w.globals.has(o.global) ? r.w.globals.get(o.global) as bigint | null : 0n;
          // the global accumulates: zero-filled memory summed into it earlier still counts
          const zeroFilled = r.w.zeroFilled.has(o.global) || f.zeroFilled;
          if (r.shared) yield globalAccess(r.w, o.global, true);
          setGlobal(r.w, o.global, before === null || f.value === null ? null : BigInt.asUintN(64, before + f.value), zeroFilled);
        }
        break;
      }
      case 'rcu_lock':
        r.depth++;
        break;
      case 'rcu_unlock':
        r.depth = Math.max(0, r.depth - 1);
        if (r.depth === 0) untrustRcu(r);
        break;
    }
  }
}

type OpOf<K extends Op['op']> = Extract<Op, { readonly op: K }>;

/** The lookup's map value in `dst`; false when a full hash map has no room for the element. */
function lookup(r: Run, o: OpOf<'lookup'>): boolean {
  const type = mapTypeOf(r.w, o.slot);
  if (type !== null && HASH_MAPS.has(type)) {
    if (!insertElement(r.w, o.slot, PROGRAM_KEY)) return false;
    touch(r.w, o.slot, PROGRAM_KEY);
  }
  // the owner's element, created with a NULL field and sum 0 if it has none (the model's key 0 is the owner)
  if (inLocalStorage(r.w, o.slot) && !slotStore(r.w, o.slot).elems.has(PROGRAM_KEY)) slotStore(r.w, o.slot).elems.set(PROGRAM_KEY, []);
  r.vars.set(o.dst, { k: 'map', slot: o.slot });
  return true;
}

function allocate(r: Run, o: OpOf<'new'>): void {
  const id = r.w.heap.push({ struct: o.struct, copies: o.percpu ? r.w.nrCpus : 1, cpus: [], zeroed: o.percpu }) - 1;
  r.fresh?.add(id);
  r.vars.set(o.dst, { k: 'obj', id, rcu: false, untrusted: false });
}

function xchg(r: Run, o: OpOf<'xchg'>): void {
  const copy = slotCopy(r, o.slot);
  const old = copy.obj;
  const src = o.src === null ? null : varOf(r, o.src);
  copy.obj = src && src.k === 'obj' ? src.id : null;
  if (src && src.k === 'obj') r.fresh?.delete(src.id);
  if (src && src.k === 'obj' && (r.depth > 0 || !r.sleepable)) {
    // the source stays usable as a non-owning RCU pointer (every copy of it)
    r.vars.forEach((v, name) => {
      if (v && v.k === 'obj' && v.id === src.id) r.vars.set(name, { ...v, rcu: true });
    });
  }
  if (o.dst !== null) r.vars.set(o.dst, old === null ? null : { k: 'obj', id: old, rcu: false, untrusted: false });
}

function load(r: Run, o: OpOf<'load'>): void {
  const id = slotCopy(r, o.slot).obj;
  r.vars.set(o.dst, id === null ? null : { k: 'obj', id, rcu: true, untrusted: r.sleepable && r.depth === 0 });
}

function store(r: Run, o: OpOf<'store'>): void {
  const src = o.src === null ? null : varOf(r, o.src);
  slotCopy(r, o.slot).obj = src && src.k === 'obj' ? src.id : null;
  if (src && src.k === 'obj') r.fresh?.delete(src.id);
}

function perCpuPtr(r: Run, o: OpOf<'per_cpu_ptr' | 'this_cpu_ptr'>): void {
  const src = varOf(r, o.src);
  const cpu = o.op === 'per_cpu_ptr' ? o.cpu : r.cpu;
  const ok = src !== null && src.k === 'obj' && cpu < r.w.nrCpus;
  r.vars.set(o.dst, ok ? { k: 'elem', id: src.id, cpu, untrusted: src.untrusted } : null);
}

function writeField(r: Run, o: OpOf<'write'>): void {
  const t = fieldTarget(r, varOf(r, o.ptr), o.field);
  const v = cValue(BigInt(o.value), t?.f.ctype ?? 'long');
  if (t?.copy) t.copy.sum = v;
  else if (t?.obj) (t.obj.cpus[t.cpu] ??= new Map()).set(t.f.off, v);
}

/** The shared access a field access through `v` makes, if it lands anywhere predictable. */
function fieldAccessOf(r: Run, v: Val, field: string, write: boolean): SharedAccess | null {
  return fieldTarget(r, v, field) === null ? null : fieldAccess(r, v, field, write);
}

function slotAccess(r: Run, slot: string, write: boolean): SharedAccess {
  return { cls: accessClass(r.w, 'slot', slot, copyIndex(r.w, slot, r.cpu)), write, obj: null };
}

/**
 * The accesses to shared state `program` may make on `cpu`, over every path (both sides of each `if`), by what its
 * variables point to: what decides where a concurrent run may interleave (interleave.ts).
 */
function programAccesses(w: World, program: Program, cpu: number): SharedAccess[] {
  const out: SharedAccess[] = [];
  // what each variable points to, from the op that sets it (a scenario need not declare its variables)
  const points = new Map<string, { readonly slot: string } | { readonly struct: string }>();
  for (const v of program.vars) points.set(v.name, v.type.kind === 'map_value' ? { slot: v.type.slot } : { struct: v.type.struct });
  const pointee = (slot: string): { readonly struct: string } => ({ struct: w.scenario.slots.find((x) => x.name === slot)?.pointee ?? '' });
  const field = (ptr: string, path: string, write: boolean): void => {
    const t = points.get(ptr);
    if (t === undefined) return;
    if ('slot' in t) out.push({ cls: accessClass(w, 'sum', t.slot, copyIndex(w, t.slot, cpu)), write, obj: null });
    else out.push({ cls: accessClass(w, 'obj', t.struct, fieldOf(w.scenario.structs, t.struct, path).off), write, obj: null });
  };
  const walk = (ops: readonly Op[]): void => {
    for (const o of ops) {
      switch (o.op) {
        case 'lookup':
          points.set(o.dst, { slot: o.slot });
          if (HASH_MAPS.has(mapTypeOf(w, o.slot) ?? 'array')) out.push({ cls: accessClass(w, 'elem', o.slot, -1), write: true, obj: null });
          break;
        case 'new':
          points.set(o.dst, { struct: o.struct });
          break;
        case 'per_cpu_ptr':
        case 'this_cpu_ptr': {
          const t = points.get(o.src);
          if (t !== undefined) points.set(o.dst, t);
          break;
        }
        case 'xchg':
        case 'load':
        case 'store':
          if (o.op !== 'store' && o.dst !== null) points.set(o.dst, pointee(o.slot));
          out.push({ cls: accessClass(w, 'slot', o.slot, copyIndex(w, o.slot, cpu)), write: o.op !== 'load', obj: null });
          break;
        case 'write':
          field(o.ptr, o.field, true);
          break;
        case 'read':
          field(o.ptr, o.field, false);
          out.push(globalAccess(w, o.global, true));
          break;
        case 'sum':
          field(o.src, o.field, false);
          out.push(globalAccess(w, o.global, false), globalAccess(w, o.global, true));
          break;
        case 'if':
          walk(o.then);
          break;
        default:
          break;
      }
    }
  };
  walk(program.ops);
  return out;
}

/** Runs `r` alone to its end, ignoring what it yields. */
function runAlone(r: Run): number {
  const g = exec(r);
  for (;;) {
    const x = g.next();
    if (x.done) return x.value;
  }
}

/** StepPrediction.globals and zeroFilled now: made again only after a global was set (World.shown). */
function shown(w: World): { readonly globals: Record<string, string | null>; readonly zeroFilled: string[] } {
  if (w.shown !== null) return w.shown;
  const globals: Record<string, string | null> = {};
  for (const g of w.scenario.globals) {
    const v = w.globals.get(g.name);
    globals[g.name] = v === undefined ? '0' : v === null ? null : v.toString();
  }
  // sorted (most steps have none, and need no sort)
  return (w.shown = { globals, zeroFilled: w.zeroFilled.size === 0 ? [] : [...w.zeroFilled].sort() });
}

/** an LRU map's element was used: it becomes the most recent (bpf_lru_node_set_ref) */
function touch(w: World, name: string, key: number): void {
  const store = slotStore(w, name);
  const e = store.elems.get(key);
  if (e === undefined || !LRU_MAP_TYPES.has(mapTypeOf(w, name) ?? '')) return;
  store.elems.delete(key);
  store.elems.set(key, e);
}

/**
 * Whether the contract's failure `when` holds for `op` on the current state: at `key` for an element's check, or
 * with `key` null for a batch's checks before any element (elem_flags, a missing batch command).
 */
function failure(w: World, op: MapOpStep, key: number | null, type: MapType, when: MapOpCondition): boolean {
  const store = slotStore(w, op.slot);
  const exists = key !== null && store.elems.has(key);
  const array = !HASH_MAPS.has(type);
  const write = op.mapOp === 'update' || op.mapOp === 'update_batch';
  switch (when) {
    case 'key_out_of_range':
      return key !== null && array && (key < 0 || key >= SLOT_MAP_MAX_ENTRIES);
    case 'noexist_on_existing':
      return key !== null && write && op.flags === 'BPF_NOEXIST' && (array || exists);
    case 'missing':
      return key !== null && !exists && (!write || op.flags === 'BPF_EXIST');
    case 'map_full':
      return key !== null && write && !exists && !LRU_MAP_TYPES.has(type) && store.elems.size >= SLOT_MAP_MAX_ENTRIES;
    case 'not_removable':
      return array;
    case 'bad_elem_flags':
      return op.mapOp === 'update_batch' && op.flags !== 'BPF_ANY';
    case 'lock_without_spin_lock':
      // checked before any element: syscall.c's map_lookup_elem / map_update_elem, a batch command's elem_flags
      return ('key' in op || key === null) && mapOpLock(op) && !slotHasSpinLock(w, op.slot);
    case 'end_of_map':
      // decided by the walk itself (batchLookup)
      return false;
  }
}

/**
 * What a userspace lookup copies out: [sum, 0 where the kptr sits] (and 0 for the word of the spin lock, which
 * check_and_init_map_value clears too) for every possible CPU (one copy if not per-CPU).
 */
function valueOf(w: World, name: string, type: MapType, e: Element): string[][] {
  const n = PERCPU_MAP_TYPES.has(type) ? w.nrCpus : 1;
  const lock = slotHasSpinLock(w, name);
  const out: string[][] = [];
  for (let cpu = 0; cpu < n; cpu++) {
    const sum = BigInt.asUintN(64, e[cpu]?.sum ?? 0n).toString();
    out.push(lock ? [sum, '0', '0'] : [sum, '0']);
  }
  return out;
}

/** The errno of the contract's first failure that holds for `op` at `key` (null: before any element), or null. */
function errnoOf(w: World, op: MapOpStep, key: number | null, type: MapType, contract: MapOpContract): string | null {
  return contract.errors.find((x) => x.mapTypes.includes(type) && failure(w, op, key, type, x.when))?.errno ?? null;
}

/** element `key` is written with `sum` by userspace: the old object is released and the field is NULL, on every CPU */
function writeElement(w: World, slot: string, type: MapType, key: number, sum: string): void {
  const store = slotStore(w, slot);
  if (!store.elems.has(key)) insertElement(w, slot, key);
  const fresh: Element = [];
  const n = PERCPU_MAP_TYPES.has(type) ? w.nrCpus : 1;
  for (let cpu = 0; cpu < n; cpu++) fresh.push({ obj: null, sum: BigInt.asIntN(64, BigInt(sum)) });
  store.elems.set(key, fresh);
  touch(w, slot, key);
}

/**
 * A batch lookup from the map's start with room for `count`: arrays walk keys and end (ENOENT) when they run out
 * before `count`; hash maps walk whole buckets and end once past the last. The suite's maps have max_entries 1, so
 * a hash map has one bucket that never holds more than `count` (no ENOSPC) and every hash batch lookup ends.
 */
function batchLookup(w: World, slot: string, type: MapType, count: number, andDelete: boolean, contract: MapOpContract): { err: string | null; keys: number[]; value: string[][] } {
  const store = slotStore(w, slot);
  const keys = [...store.elems.keys()].sort((a, b) => a - b).slice(0, count);
  const value = keys.flatMap((k) => valueOf(w, slot, type, store.elems.get(k)!));
  if (andDelete) for (const k of keys) store.elems.delete(k);
  const ended = HASH_MAPS.has(type) || count > keys.length;
  const end = contract.errors.find((x) => x.when === 'end_of_map' && x.mapTypes.includes(type));
  return { err: ended && end !== undefined ? end.errno : null, keys, value };
}

/** One batch operation (specs/ops/map/*_batch.yaml); `count` as libbpf hands it back. */
function batchOp(w: World, op: Extract<MapOpStep, { readonly mapOp: MapBatchOpKind }>, type: MapType, contract: MapOpContract): Omit<MapOpResult, 'step' | 'mapOp' | 'mapType'> {
  const asked = 'keys' in op ? op.keys.length : op.count;
  // a failure before any element leaves count as userspace passed it; so does an empty batch, which does nothing
  const early = errnoOf(w, op, null, type, contract);
  if (early !== null || asked === 0) return { err: early, value: null, count: asked };
  if (!('keys' in op)) {
    const r = batchLookup(w, op.slot, type, op.count, op.mapOp === 'lookup_and_delete_batch', contract);
    // keys and values only when something was copied
    return r.keys.length === 0 ? { err: r.err, value: null, count: 0 } : { err: r.err, value: r.value, count: r.keys.length, keys: r.keys };
  }
  // element by element as the single operation (BPF_ANY for an update), stopping at the first failure
  for (const [done, key] of op.keys.entries()) {
    // each key is updated as bpf_map_update_elem with BPF_ANY (the batch's flags are elem_flags)
    if (op.mapOp === 'update_batch') lruPop(w, op.slot, type, 'BPF_ANY');
    const err = errnoOf(w, op, key, type, contract);
    if (err !== null) return { err, value: null, count: done };
    if (op.mapOp === 'update_batch') writeElement(w, op.slot, type, key, op.sum);
    else slotStore(w, op.slot).elems.delete(key);
  }
  return { err: null, value: null, count: op.keys.length };
}

/** A userspace map operation that removed or overwrote an element whose kptr field held an object. */
export interface MapRelease {
  readonly step: number;
  readonly mapOp: MapOpKind;
  readonly mapType: MapType;
  /** the operation passed BPF_F_LOCK */
  readonly lock: boolean;
}

/**
 * `op` on the model, and whether it removed or replaced an element holding an object: the releases the contract
 * makes (bpf_obj_free_fields), which a kernel that skips them shows from this step on.
 */
function mapOpReleasing(w: World, op: MapOpStep, step: number, contracts: readonly MapOpContract[]): { readonly result: MapOpResult; readonly released: boolean } {
  const store = slotStore(w, op.slot);
  const holding: [number, Element][] = [];
  for (const [key, e] of store.elems) if (e.some((c) => c !== undefined && c.obj !== null)) holding.push([key, e]);
  const result = mapOp(w, op, step, contracts);
  return { result, released: holding.some(([key, e]) => store.elems.get(key) !== e) };
}

function opResult(step: number, op: MapOpStep, type: MapType, r: Omit<MapOpResult, 'step' | 'mapOp' | 'mapType'>): MapOpResult {
  return { step, mapOp: op.mapOp, mapType: type, ...r };
}

/** One userspace map operation on the model (specs/ops/map); the contract's errors table gives the errno. */
function mapOp(w: World, op: MapOpStep, step: number, contracts: readonly MapOpContract[]): MapOpResult {
  const type = mapTypeOf(w, op.slot);
  const contract = contracts.find((c) => c.mapOp === op.mapOp);
  // checkScenarioRefs admits map operations on map-home slots only, and loadSpec a contract for every operation
  if (type === null || contract === undefined) throw new Error(`runSchedule: schedule[${step}]: no map or contract for ${op.mapOp} on ${op.slot}`);
  if (!('key' in op)) return opResult(step, op, type, batchOp(w, op, type, contract));
  if (op.mapOp === 'update') {
    // a check before any element (BPF_F_LOCK without a spin lock) fails before an LRU map takes a node
    const early = errnoOf(w, op, null, type, contract);
    if (early !== null) return opResult(step, op, type, { err: early, value: null });
    lruPop(w, op.slot, type, op.flags);
  }
  const err = errnoOf(w, op, op.key, type, contract);
  if (err !== null) return opResult(step, op, type, { err, value: null });
  const store = slotStore(w, op.slot);
  const e = store.elems.get(op.key);
  switch (op.mapOp) {
    case 'update':
      writeElement(w, op.slot, type, op.key, op.sum);
      return opResult(step, op, type, { err: null, value: null });
    case 'lookup':
      return opResult(step, op, type, { err: null, value: valueOf(w, op.slot, type, e ?? []) });
    case 'delete':
    case 'lookup_and_delete': {
      const value = op.mapOp === 'lookup_and_delete' ? valueOf(w, op.slot, type, e ?? []) : null;
      store.elems.delete(op.key);
      return opResult(step, op, type, { err: null, value });
    }
  }
}

/** What one pass over the schedule predicts. */
interface ScheduleRun {
  readonly steps: StepPrediction[];
  readonly mapOps: MapOpResult[];
  readonly released: MapRelease[];
  readonly memory: MemoryPrediction | null;
}

/**
 * Run the scenario's schedule on a model of the kernel with `nrCpus` possible CPUs. Steps of programs not in
 * `accepted` are skipped (the kernel refused them, so nothing runs), and so are grace periods. One StepPrediction
 * per test run, one MapOpResult per userspace map operation; `step` is the index in the schedule, grace periods
 * counted. `released`: the map operations that removed or overwrote an element holding an object, in step order.
 * With concurrent steps, every interleaving of their runs is enumerated (interleave.ts): `outcomes` holds the
 * distinct results, the first being the one returned (each concurrent step's first run before its second).
 * `layouts`: the prediction's struct layouts (layoutOf), which its walks filled already.
 */
export function runSchedule(
  scenario: Scenario,
  accepted: ReadonlyMap<string, Runnable>,
  nrCpus: number,
  contracts: readonly MapOpContract[],
  layouts: Map<string, StructLayout>,
): ScheduleRun & { readonly outcomes: { readonly list: Outcome[]; readonly complete: boolean } | null } {
  if (!scenario.schedule.some((s) => 'concurrent' in s)) {
    const r = runOnce({ scenario, accepted, nrCpus, contracts, layouts, concurrent: null }, chooseFirst);
    return { steps: r.steps, mapOps: r.mapOps, released: r.released, memory: r.memory, outcomes: null };
  }
  // where the runs of each concurrent step may interleave is the same in every pass: found once
  const passes: Passes = {
    scenario, accepted, nrCpus, contracts, layouts,
    concurrent: { classes: { slot: new Map(), sum: new Map(), obj: new Map(), elem: new Map(), global: new Map() }, conflicts: new Map() },
  };
  const { results, complete } = enumerateChoices((choose) => runOnce(passes, choose));
  // distinct by their JSON; compared in place, as a pass gives one of a few outcomes (no text is built per pass)
  const list: Outcome[] = [];
  for (const r of results) {
    if (!list.some((o) => sameSteps(o.steps, r.steps) && sameData(o.mapOps, r.mapOps))) list.push({ steps: r.steps, mapOps: r.mapOps });
  }
  return { ...(results[0] as ScheduleRun), outcomes: { list, complete } };
}

/**
 * sameData for two passes' steps, field by field (the comparison that dominates a concurrent prediction): a
 * StepPrediction holds exactly these fields (runOnce), its globals string or null values.
 */
function sameSteps(a: readonly StepPrediction[], b: readonly StepPrediction[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) {
    const x = a[i] as StepPrediction;
    const y = b[i] as StepPrediction;
    if (x === y) continue;
    if (x.step !== y.step || x.iteration !== y.iteration || x.program !== y.program || x.retval !== y.retval) return false;
    if (x.cpu !== y.cpu || ('cpu' in x) !== ('cpu' in y)) return false;
    if (x.zeroFilled.length !== y.zeroFilled.length) return false;
    for (let j = 0; j < x.zeroFilled.length; j++) if (x.zeroFilled[j] !== y.zeroFilled[j]) return false;
    if (x.globals !== y.globals && !sameGlobals(x.globals, y.globals)) return false;
  }
  return true;
}

function sameGlobals(x: Readonly<Record<string, string | null>>, y: Readonly<Record<string, string | null>>): boolean {
  let keys = 0;
  for (const k in x) {
    if (!Object.hasOwn(y, k) || x[k] !== y[k]) return false;
    keys++;
  }
  for (const _ in y) keys--;
  return keys === 0;
}

/**
 * Whether JSON.stringify writes plain data `a` and `b` alike: the same keys with the same values. Their order is not
 * compared (no key list is made): the model builds each kind of object (StepPrediction, MapOpResult, a snapshot's
 * globals in the scenario's order) with its keys in one order.
 */
function sameData(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false;
  if (Array.isArray(a) || Array.isArray(b)) {
    if (!Array.isArray(a) || !Array.isArray(b) || a.length !== b.length) return false;
    for (let i = 0; i < a.length; i++) if (!sameData(a[i], b[i])) return false;
    return true;
  }
  const x = a as Record<string, unknown>;
  const y = b as Record<string, unknown>;
  let keys = 0;
  for (const k in x) {
    if (!Object.hasOwn(y, k) || !sameData(x[k], y[k])) return false;
    keys++;
  }
  for (const _ in y) keys--;
  return keys === 0;
}

/** the choice of a schedule without concurrent steps (it is never asked) */
function chooseFirst(): number {
  return 0;
}

function newRun(w: World, x: Runnable, cpu: number, shared: boolean): Run {
  return { w, insns: x.insns, cpu, sleepable: isSleepable(x.program.progType), vars: new Map(), depth: 0, shared, fresh: shared ? new Set() : null };
}

function retvalOf(program: Program, ret: number): number | null {
  return program.progType === 'tc' || program.progType === 'syscall' ? ret : null;
}

/** One pass over the schedule, the concurrent steps' runs interleaved as `choose` says. */
function runOnce(passes: Passes, choose: Choose): ScheduleRun {
  const { scenario, accepted, nrCpus, contracts, layouts, concurrent } = passes;
  const w: World = { scenario, nrCpus, layouts, classes: concurrent?.classes ?? null, slots: new Map(), heap: [], globals: new Map(), zeroFilled: new Set(), shown: null };
  const steps: StepPrediction[] = [];
  const mapOps: MapOpResult[] = [];
  const released: MapRelease[] = [];
  const memory = endsHoldingNothing(scenario);
  let heldAtEnd = new Set<number>();
  for (let step = 0; step < scenario.schedule.length; step++) {
    const s = scenario.schedule[step] as ScheduleStep;
    if (memory && step === scenario.schedule.length - 1) heldAtEnd = heldObjects(w);
    // a grace period frees what earlier runs dropped; on a correct kernel a later `new` still reads 0, so no
    // program can tell: it is no run and changes nothing here (World never hands dropped memory out again)
    if ('grace_period' in s || 'free_maps' in s) continue;
    // specs/ops/lifetime/owner_exit.yaml: the owner's elements go with it (their objects released); the next run's
    // lookup creates a fresh one
    if ('owner_exit' in s) {
      for (const slot of scenario.slots) if (isLocalStorage(slot.home)) slotStore(w, slot.name).elems.clear();
      continue;
    }
    if ('mapOp' in s) {
      const r = mapOpReleasing(w, s, step, contracts);
      mapOps.push(r.result);
      if (r.released) released.push({ step, mapOp: s.mapOp, mapType: r.result.mapType, lock: mapOpLock(s) });
      continue;
    }
    if ('concurrent' in s) {
      // a refused program does not run: the other runs alone
      const running = s.concurrent.flatMap((rs) => {
        const x = accepted.get(rs.program);
        return x === undefined ? [] : [{ x, cpu: rs.cpu }];
      });
      const both = running.map((r) => ({ program: r.x.program, run: newRun(w, r.x, r.cpu, running.length === 2) }));
      let rets: number[];
      if (both.length === 2) {
        const [a, b] = both as [{ program: Program; run: Run }, { program: Program; run: Run }];
        const { conflicts } = concurrent as NonNullable<Passes['concurrent']>;
        let classes = conflicts.get(step);
        if (classes === undefined) conflicts.set(step, (classes = conflictingClasses(programAccesses(w, a.program, a.run.cpu), programAccesses(w, b.program, b.run.cpu))));
        rets = concurrentRuns(a.run, b.run, classes, choose);
      } else rets = both.map((x) => runAlone(x.run));
      const { globals, zeroFilled } = shown(w);
      both.forEach((x, i) => steps.push({ step, iteration: 0, program: x.program.name, retval: retvalOf(x.program, rets[i] ?? 0), globals, zeroFilled, cpu: x.run.cpu }));
      continue;
    }
    const x = accepted.get(s.program);
    if (x === undefined) continue;
    const { program } = x;
    for (let iteration = 0; iteration < s.repeat; iteration++) {
      const ret = runAlone(newRun(w, x, s.cpu, false));
      const { globals, zeroFilled } = shown(w);
      steps.push({ step, iteration, program: program.name, retval: retvalOf(program, ret), globals, zeroFilled });
    }
  }
  return { steps, mapOps, released, memory: memory ? memoryPrediction(w, heldAtEnd) : null };
}


/**
 * Two runs at once: they may interleave at the accesses both may make to one location, one of them writing
 * (`conflicts`, conflictingClasses), except to an object only the run that allocated it can reach yet.
 */
function concurrentRuns(a: Run, b: Run, conflicts: ReadonlySet<string>, choose: Choose): [number, number] {
  const runs = [a, b];
  // passed inline: a closure held in a named const gets a name set at every call (tsx keeps names)
  return interleave([exec(a), exec(b)], (x, i) => conflicts.has(x.cls) && !(x.obj !== null && runs[i]!.fresh!.has(x.obj)), choose);
}

/**
 * Growth of `Percpu:` over all memory passes still counted as the baseline: the allocator populates chunk pages for
 * all CPUs at once (4 KiB × nr_cpus) and other kernel work allocates per-CPU memory now and then.
 */
const MEMORY_SLACK_KB = 64;

/** The objects the slots hold now. */
function heldObjects(w: World): Set<number> {
  const held = new Set<number>();
  for (const store of w.slots.values()) for (const e of store.elems.values()) for (const c of e) if (c !== undefined && c.obj !== null) held.add(c.obj);
  return held;
}

/** The per-CPU bytes a pass allocates, and those held by the slots (`held`) when the last step frees them (bpf_percpu_obj_new objects only). */
function memoryPrediction(w: World, held: ReadonlySet<number>): MemoryPrediction {
  const bytes = (id: number): number => {
    const o = w.heap[id];
    return o?.zeroed ? layoutOf(w.layouts, w.scenario.structs, o.struct).size * w.nrCpus : 0;
  };
  return {
    allocatedBytes: w.heap.reduce((sum, _, id) => sum + bytes(id), 0),
    heldAtFreeBytes: [...held].reduce((sum, id) => sum + bytes(id), 0),
    slackKb: MEMORY_SLACK_KB,
  };
}
