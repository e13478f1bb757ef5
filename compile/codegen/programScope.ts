import type { GlobalVar, Op, Program, ScalarCType, Scenario, Slot, VarType } from '../../types/index.ts';
import { parseCInteger } from './cInteger.ts';
import { fieldCType } from './fieldCType.ts';
import { scenarioInvalid } from './scenarioInvalid.ts';

/** Prefix of the names codegen adds to a program (`__kc_key`, `__kc_i0`): a scenario may not use it. */
const CODEGEN_PREFIX = '__kc_';

/**
 * The last of `list` called `name` (a declaration list's, as a Map made from it would keep): scenarios declare a few
 * slots, globals and variables each, so a search of the list costs less than a Map per program or scenario made for it.
 */
function lastNamed<T extends { readonly name: string }>(list: readonly T[], name: string): T | undefined {
  for (let i = list.length - 1; i >= 0; i--) if (list[i]!.name === name) return list[i];
  return undefined;
}

/**
 * What a program's ops may name, resolved and checked the same way whichever backend turns the program into code
 * (emitProgram's C, lowerProgram's instructions): a scenario one of them refuses, the other refuses with the same words.
 */
export class ProgramScope {
  /** slot → variable of its most recent lookup so far, in source order */
  private lastLookup = new Map<string, string>();

  constructor(
    readonly scenario: Scenario,
    readonly program: Program,
  ) {
    for (const v of program.vars) {
      // in C, a local with a file-scope name would silently redirect `&<slot>` or `<global> =` to itself
      if (lastNamed(scenario.slots, v.name) !== undefined || lastNamed(scenario.globals, v.name) !== undefined || v.name === 'nr_cpus' || v.name.startsWith(CODEGEN_PREFIX)) {
        throw this.invalid(`variable ${v.name} shadows a file-scope or codegen name`);
      }
    }
  }

  variable(name: string): VarType {
    return this.program.vars[this.varIndex(name)]!.type;
  }

  /** Where a variable is declared among the program's (lowerProgram gives each its stack slot by it). */
  varIndex(name: string): number {
    const vars = this.program.vars;
    for (let i = vars.length - 1; i >= 0; i--) if (vars[i]!.name === name) return i;
    throw this.invalid(`variable ${name} is not declared`);
  }

  slot(name: string): Slot {
    const slot = lastNamed(this.scenario.slots, name);
    if (!slot) throw this.invalid(`slot ${name} is not defined`);
    return slot;
  }

  global(name: string): GlobalVar {
    const g = lastNamed(this.scenario.globals, name);
    if (!g) throw this.invalid(`global ${name} is not defined`);
    return g;
  }

  struct(name: string): string {
    if (!this.scenario.structs.some((t) => t.name === name)) throw this.invalid(`struct ${name} is not defined`);
    return name;
  }

  /** What `ptr->…` dereferences: a scenario struct, or the map value of a map slot (whose only scalar is `sum`). */
  pointee(ptr: string): { readonly kind: 'struct'; readonly struct: string } | { readonly kind: 'map_value'; readonly slot: string } {
    const type = this.variable(ptr);
    if (type.kind !== 'map_value') return { kind: 'struct', struct: type.struct };
    if (this.slot(type.slot).home.kind === 'global') {
      throw this.invalid(`${ptr} points to the global slot ${type.slot} itself, which has no fields`);
    }
    return { kind: 'map_value', slot: type.slot };
  }

  /** Scalar type of `ptr->field` (a map value's only one is `long sum`); throws when the path names no scalar member. */
  fieldType(ptr: string, field: string): ScalarCType {
    const pointee = this.pointee(ptr);
    if (pointee.kind === 'map_value') {
      if (field !== 'sum') throw this.invalid(`${ptr}->${field}: the map value only has the scalar field sum`);
      return 'long';
    }
    const resolved = fieldCType(this.scenario.structs, pointee.struct, field);
    if ('error' in resolved) throw this.invalid(`${ptr}->${field}: ${resolved.error}`);
    return resolved.ctype;
  }

  /** The value of a `write` op. */
  writeValue(value: string): bigint {
    const v = parseCInteger(value);
    if (v === null) throw this.invalid(`write of "${value}": not a decimal integer in [-2^63, 2^64)`);
    return v;
  }

  /** Records a lookup, in source order: later ops reach the slot's kptr field through `dst`. */
  lookedUp(slot: string, dst: string): void {
    this.lastLookup.set(slot, dst);
  }

  /** The variable holding the element of a map slot's most recent lookup. */
  container(slot: string): string {
    const container = this.lastLookup.get(slot);
    if (container === undefined) throw this.invalid(`slot ${slot} is used before any lookup of it`);
    return container;
  }

  /** Records the lookups of ops lowered out of source order, as if they had been lowered where they stand. */
  lookedUpIn(ops: readonly Op[]): void {
    for (const op of ops) {
      if (op.op === 'lookup') this.lookedUp(op.slot, op.dst);
      if (op.op === 'if') this.lookedUpIn(op.then);
    }
  }

  /** The lookup state, to lower a block later as it stood here (see lookedUpIn). */
  snapshot(): Map<string, string> {
    return new Map(this.lastLookup);
  }

  /** Runs `lower` with the lookup state of a snapshot, then restores the current one. */
  withSnapshot(state: Map<string, string>, lower: () => void): void {
    const current = this.lastLookup;
    this.lastLookup = state;
    try {
      lower();
    } finally {
      this.lastLookup = current;
    }
  }

  invalid(message: string): Error {
    return scenarioInvalid(this.scenario.id, `program ${this.program.name}: ${message}`);
  }
}
