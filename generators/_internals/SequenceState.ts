import type { GlobalVar, Slot, VarDecl, VarType } from '../../types/index.ts';

/**
 * Abstract handle states of kernel-semantics §1.3, as the generators track them (a coarser copy of the verifier's
 * view, used only to choose legal next ops; the oracle has its own model).
 * - `own?`/`own`: an acquired reference (NEW or XCHG result) before/after its NULL check
 * - `rcu?`/`rcu`: a non-owning per-CPU pointer (LOAD in an RCU CS, or an XCHG source converted in an RCU CS)
 * - `elem?`/`elem`: a CPU's element from bpf_per_cpu_ptr (may be NULL) / bpf_this_cpu_ptr
 * - `untr?`/`untr`: untrusted (LOAD outside an RCU CS in a sleepable program; MEM_RCU pointers after the outermost unlock)
 * - `dead`: released or invalidated (a scalar for the verifier)
 * - `mapval`: the map value (or global container) holding a slot; never NULL (lookup returns early)
 * - `joined`: assigned inside an `if` block that has ended: differs between paths, so unusable
 */
export type HandleState =
  | 'own?' | 'own' | 'rcu?' | 'rcu' | 'elem?' | 'elem' | 'untr?' | 'untr' | 'dead' | 'mapval' | 'joined';

export interface Handle {
  readonly name: string;
  state: HandleState;
  /** pointee struct (null for a map value) */
  readonly struct: string | null;
  /** per-CPU object (bpf_percpu_obj_new kind) rather than a bpf_obj_new one */
  readonly percpu: boolean;
  /** the slot a map value holds */
  readonly slot: string | null;
  /** `if` nesting depth where the variable was assigned */
  readonly depth: number;
  /** a reference the program leaks on purpose (rule ref.leak): closing code leaves it alone */
  leak: boolean;
}

const MAYBE_NULL: Partial<Record<HandleState, HandleState>> = { 'own?': 'own', 'rcu?': 'rcu', 'elem?': 'elem', 'untr?': 'untr' };

/** The non-NULL state a NULL check leads to, or null when the state is not maybe-NULL. */
export function checkedState(s: HandleState): HandleState | null {
  return MAYBE_NULL[s] ?? null;
}

/** `v<i>`: the names of a program's variables, made once (every program declares v0, v1, ...). */
const VAR_NAMES: string[] = [];
function varName(i: number): string {
  return VAR_NAMES[i] ?? (VAR_NAMES[i] = `v${i}`);
}

/**
 * The mutable model of one program under construction: variables and their handle states, the bpf_rcu_read_lock
 * depth, the `if` depth, the result globals. One instance lives for one build (the build stays a pure function).
 * Queries run several times per generated op, so they walk the handles without allocating.
 */
export class SequenceState {
  private readonly vars = new Map<string, Handle>();
  /** the handles in declaration order (index i is variable `v<i>`) */
  readonly handles: Handle[] = [];
  readonly decls: VarDecl[] = [];
  readonly globals: GlobalVar[] = [];
  rcuDepth = 0;
  blockDepth = 0;
  /** rule rcu.exit_locked: the final unlock is left out on purpose */
  exitLocked = false;

  constructor(
    readonly sleepable: boolean,
    readonly slots: readonly Slot[],
    private readonly firstGlobal: number,
  ) {}

  /** `in_rcu_cs()`: non-sleepable programs always are; sleepable ones only under bpf_rcu_read_lock. */
  inRcu(): boolean {
    return !this.sleepable || this.rcuDepth > 0;
  }

  declare(type: VarType, state: HandleState, struct: string | null, percpu: boolean, slot: string | null): string {
    const name = varName(this.decls.length);
    this.decls.push({ name, type });
    const h: Handle = { name, state, struct, percpu, slot, depth: this.blockDepth, leak: false };
    this.vars.set(name, h);
    this.handles.push(h);
    return name;
  }

  newGlobal(): string {
    const name = `g${this.firstGlobal + this.globals.length}`;
    this.globals.push({ name, ctype: '__u64' });
    return name;
  }

  handle(name: string): Handle {
    const h = this.vars.get(name);
    if (h === undefined) throw new Error(`SequenceState: unknown variable ${name}`);
    return h;
  }

  /** Live acquired references: what an exit must release (except deliberate leaks). */
  owned(): string[] {
    const out: string[] = [];
    for (const h of this.handles) if (isOwned(h)) out.push(h.name);
    return out;
  }

  hasOwned(): boolean {
    for (const h of this.handles) if (isOwned(h)) return true;
    return false;
  }

  mapValueOf(slot: string): string | null {
    for (const h of this.handles) if (h.state === 'mapval' && h.slot === slot) return h.name;
    return null;
  }

  slot(name: string): Slot {
    const s = this.slots.find((x) => x.name === name);
    if (s === undefined) throw new Error(`SequenceState: unknown slot ${name}`);
    return s;
  }

  /** Outermost bpf_rcu_read_unlock: every MEM_RCU pointer becomes PTR_UNTRUSTED. */
  untrustRcu(): void {
    for (const h of this.handles) {
      if (h.state === 'rcu' || h.state === 'rcu?' || h.state === 'elem' || h.state === 'elem?') h.state = 'untr';
    }
  }

  /** Snapshot of handle states (by declaration index), to merge the two paths of an `if`. */
  snapshot(): HandleState[] {
    return this.handles.map((h) => h.state);
  }

  /** After `if (v) { … }`: whatever the block assigned or changed differs between the paths. */
  joinAfterBlock(before: readonly HandleState[]): void {
    this.handles.forEach((h, i) => {
      const prev = before[i];
      if (prev === undefined) {
        h.state = h.state === 'dead' || h.state === 'own' || h.state === 'own?' ? 'dead' : 'joined';
      } else if (prev !== h.state) {
        h.state = 'joined';
      }
    });
  }
}

function isOwned(h: Handle): boolean {
  return (h.state === 'own' || h.state === 'own?') && !h.leak;
}
