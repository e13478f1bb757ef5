import { fieldSlot, scalarSigned, scalarSize } from '../../cabi/structLayout.ts';
import { SLOT_VALUE_KPTR_OFF, slotValueSize } from '../../cabi/slotMap.ts';
import type { Op, Program, ScalarCType, Scenario } from '../../types/index.ts';
import { ProgramScope } from '../codegen/programScope.ts';
import { globalSlotSection } from '../codegen/scenarioIdentifiers.ts';
import { BPF_FUNC as HELPER, R0, R1, R2, R3, R4, R10 } from '../../bpf/asm/index.ts';
import type { InsnEmitter } from '../../bpf/asm/I.ts';
import type { InsnBuffer } from '../../bpf/asm/insn.ts';
import type { ElfRelocation } from '../../bpf/elf/index.ts';
/** BPF_NOEXIST */
const NOEXIST = 1;
/** bpf_{task,cgrp}_storage_get's flag: create the owner's element if it has none */
const BPF_LOCAL_STORAGE_GET_F_CREATE = 1;
/** the values a mov64 immediate holds (sign-extended s32) */
const S32_MIN = -(2n ** 31n);
const S32_MAX = 2n ** 31n - 1n;
/** Offset of `pc` in `struct <slot>_elem { long sum; ... *pc; }`. */
const ELEM_PC = SLOT_VALUE_KPTR_OFF;

/**
 * The walk from the current task to its cgroup, `task->cgroups->dfl_cgrp`, as kptr.h declares the kernel's structs
 * (`__attribute__((preserve_access_index))`, each with the one member): each step is a load whose offset libbpf
 * relocates to the running kernel's (CO-RE FIELD_BYTE_OFFSET, access string "0:0" = the struct's member 0).
 */
export const OWNER_CGROUP_PATH = [
  { struct: 'task_struct', member: 'cgroups', pointee: 'css_set' },
  { struct: 'css_set', member: 'dfl_cgrp', pointee: 'cgroup' },
] as const;
export type KernelStructName = (typeof OWNER_CGROUP_PATH)[number]['struct'];

/** A CO-RE field relocation of a load (struct bpf_core_relo), `offset` in bytes from the start of its code section. */
export interface FieldRelocation {
  readonly offset: number;
  readonly struct: KernelStructName;
  readonly accessStr: string;
}

/**
 * Stack layout (offsets below r10): map key 0, the hash-map insert value (as large as the scenario's largest slot
 * value: 16 bytes, 24 with a spin lock), the num iterator, then one slot per variable.
 */
const KEY_OFF = -4;
class StackLayout {
  readonly init: number;
  readonly iter: number;
  constructor(readonly initSize: number) {
    this.init = -8 - initSize;
    this.iter = this.init - 8;
  }

  varOff(i: number): number {
    return this.iter - 8 - 8 * i;
  }
}

/** What a lowered program refers to outside itself. */
export interface LowerContext {
  /** BTF id of each scenario struct (the local type id bpf_obj_new_impl and bpf_percpu_obj_new_impl take) */
  readonly structIds: ReadonlyMap<string, number>;
}

/** The code section a program is lowered into: instructions and relocations are appended, offsets are the section's. */
export interface CodeSection {
  readonly insns: InsnBuffer;
  /** the instruction builders appending to `insns` (bpf/asm I.ts emitInto) */
  readonly emit: InsnEmitter;
  readonly relocations: ElfRelocation[];
  readonly fieldRelocations: FieldRelocation[];
}

/**
 * One program as BPF instructions, the shape clang -O2 gives the C of emitProgram.ts without its optimisations:
 * every variable lives in its own stack slot (zeroed on entry, as the C initialises each to NULL), and each op loads
 * its operands into the argument registers, calls, and stores r0 back. The verifier tracks pointers, their ids and
 * references through stack spills exactly as through registers, so the verdicts are those of the C.
 */
export function lowerProgram(scenario: Scenario, program: Program, ctx: LowerContext, section: CodeSection): void {
  new Lowering(scenario, program, ctx, section).run();
}

class Lowering {
  private readonly insns: InsnBuffer;
  /** appends an instruction; each gives the index of the slot it wrote (a forward jump's, for bind) */
  private readonly emit: InsnEmitter;
  private readonly relocations: ElfRelocation[];
  private readonly fieldRelocations: FieldRelocation[];
  private readonly scope: ProgramScope;
  /** then-blocks that end in `return`, placed after the body as clang places them (see `if`); `jump` jumps to one */
  private readonly outOfLine: { readonly jump: number; readonly ops: readonly Op[]; readonly lookups: Map<string, string> }[] = [];
  /** jumps to the shared `return 0` of failed lookups */
  private readonly toReturn0: number[] = [];
  private readonly stack: StackLayout;

  constructor(
    scenario: Scenario,
    private readonly program: Program,
    private readonly ctx: LowerContext,
    section: CodeSection,
  ) {
    this.insns = section.insns;
    this.emit = section.emit;
    this.relocations = section.relocations;
    this.fieldRelocations = section.fieldRelocations;
    this.scope = new ProgramScope(scenario, program);
    // a loop, not a spread of every slot's size: this runs for every program written
    let initSize = 16;
    for (const x of scenario.slots) if (x.home.kind === 'map') initSize = Math.max(initSize, slotValueSize(x.home));
    this.stack = new StackLayout(initSize);
  }

  run(): void {
    if (this.stack.varOff(this.program.vars.length - 1) < -512) throw this.scope.invalid('too many variables for the 512-byte stack');
    if (this.program.vars.length > 0) this.emit.mov64Imm(R1, 0);
    for (let i = 0; i < this.program.vars.length; i++) this.emit.stx(8, R10, this.stack.varOff(i), R1);
    this.ops(this.program.ops);
    if (this.program.ops.at(-1)?.op !== 'return') this.return(0);
    for (let block = this.outOfLine.shift(); block; block = this.outOfLine.shift()) {
      this.bind(block.jump);
      this.scope.withSnapshot(block.lookups, () => this.ops(block!.ops));
    }
    if (this.toReturn0.length > 0) {
      for (const jump of this.toReturn0) this.bind(jump);
      this.return(0);
    }
  }

  private ops(ops: readonly Op[]): void {
    for (const op of ops) this.op(op);
  }

  private op(op: Op): void {
    switch (op.op) {
      case 'lookup':
        return this.lookup(op.slot, op.dst);
      case 'new':
        this.emit.ldImm64(R1, BigInt(this.structId(op.struct)));
        this.emit.mov64Imm(R2, 0);
        this.callExtern(op.percpu ? 'bpf_percpu_obj_new_impl' : 'bpf_obj_new_impl');
        return this.store(op.dst, R0);
      case 'if': {
        this.load(R1, op.var);
        if (op.then.at(-1)?.op === 'return') {
          // clang moves a block that returns out of line and falls through to the rest; the verifier explores the
          // fall-through first, so this keeps the order in which it meets errors (and which one it reports)
          const jump = op.is === 'null' ? this.emit.jeqImm(R1, 0, 0) : this.emit.jneImm(R1, 0, 0);
          this.outOfLine.push({ jump, ops: op.then, lookups: this.scope.snapshot() });
          this.scope.lookedUpIn(op.then);
          return;
        }
        const skip = op.is === 'null' ? this.emit.jneImm(R1, 0, 0) : this.emit.jeqImm(R1, 0, 0);
        this.ops(op.then);
        return this.bind(skip);
      }
      case 'xchg': {
        const off = this.slotBase(R1, op.slot);
        if (off !== 0) this.emit.add64Imm(R1, off);
        if (op.src === null) this.emit.mov64Imm(R2, 0);
        else this.load(R2, op.src);
        this.emit.call(HELPER.kptr_xchg);
        if (op.dst !== null) this.store(op.dst, R0);
        return;
      }
      case 'drop':
        this.load(R1, op.var);
        this.emit.mov64Imm(R2, 0);
        return this.callExtern(op.percpu ? 'bpf_percpu_obj_drop_impl' : 'bpf_obj_drop_impl');
      case 'load': {
        const off = this.slotBase(R1, op.slot);
        this.emit.ldx(8, R1, R1, off);
        return this.store(op.dst, R1);
      }
      case 'store': {
        const off = this.slotBase(R1, op.slot);
        if (op.src === null) this.emit.mov64Imm(R2, 0);
        else this.load(R2, op.src);
        this.emit.stx(8, R1, off, R2);
        return;
      }
      case 'per_cpu_ptr':
        this.load(R1, op.src);
        this.emit.mov32Imm(R2, op.cpu);
        this.emit.call(HELPER.per_cpu_ptr);
        return this.store(op.dst, R0);
      case 'this_cpu_ptr':
        this.load(R1, op.src);
        this.emit.call(HELPER.this_cpu_ptr);
        return this.store(op.dst, R0);
      case 'write': {
        const field = this.field(op.ptr, op.field);
        const value = this.scope.writeValue(op.value);
        this.load(R1, op.ptr);
        const narrow = BigInt.asIntN(64, value);
        if (narrow >= S32_MIN && narrow <= S32_MAX) this.emit.mov64Imm(R2, Number(narrow));
        else this.emit.ldImm64(R2, value);
        this.emit.stx(scalarSize(field.ctype), R1, field.off, R2);
        return;
      }
      case 'read': {
        const field = this.field(op.ptr, op.field);
        this.load(R1, op.ptr);
        this.loadField(R1, R1, field);
        this.globalAddress(R2, op.global);
        this.emit.stx(scalarSize(this.scope.global(op.global).ctype), R2, 0, R1);
        return;
      }
      case 'sum':
        return this.sum(op.src, op.field, op.global);
      case 'rcu_lock':
        return this.callExtern('bpf_rcu_read_lock');
      case 'rcu_unlock':
        return this.callExtern('bpf_rcu_read_unlock');
      case 'return':
        return this.return(op.value);
    }
  }

  /**
   * `dst = bpf_map_lookup_elem(&map, &key); if (!dst) return 0;` — hash maps insert a zeroed value and look up again
   * when the key is missing, as emitProgram.ts does — or `dst = &global`.
   */
  private lookup(slotName: string, dst: string): void {
    const slot = this.scope.slot(slotName);
    this.scope.variable(dst);
    this.scope.lookedUp(slotName, dst);
    if (slot.home.kind === 'global') {
      this.emitLd64(R1, { section: globalSlotSection(slot.name, slot.home.section) });
      return this.store(dst, R1);
    }
    if (slot.home.kind !== 'map') {
      // r0 = bpf_{task,cgrp}_storage_get(&map, owner, 0, BPF_LOCAL_STORAGE_GET_F_CREATE), the owner
      // bpf_get_current_task_btf() or its ->cgroups->dfl_cgrp (each load as clang writes it: r1 = *(r0 + 0), r2 = *(r1 + 0))
      this.emit.call(HELPER.get_current_task_btf);
      if (slot.home.kind === 'cgrp_storage') {
        const [cgroups, dflCgrp] = OWNER_CGROUP_PATH;
        this.coreLoad(R1, R0, cgroups.struct);
        this.coreLoad(R2, R1, dflCgrp.struct);
      } else {
        this.emit.mov64Reg(R2, R0);
      }
      this.emitLd64(R1, { symbol: slot.name });
      this.emit.mov64Imm(R3, 0);
      this.emit.mov64Imm(R4, BPF_LOCAL_STORAGE_GET_F_CREATE);
      this.emit.call(slot.home.kind === 'cgrp_storage' ? HELPER.cgrp_storage_get : HELPER.task_storage_get);
    } else {
      this.emit.mov32Imm(R1, 0);
      this.emit.stx(4, R10, KEY_OFF, R1);
      this.mapLookup(slot.name);
    }
    if (slot.home.kind === 'map' && slot.home.mapType !== 'array' && slot.home.mapType !== 'percpu_array') {
      const found = this.emit.jneImm(R0, 0, 0);
      this.emit.mov64Imm(R1, 0);
      for (let o = 0; o < this.stack.initSize; o += 8) this.emit.stx(8, R10, this.stack.init + o, R1);
      this.emitLd64(R1, { symbol: slot.name });
      this.emit.mov64Reg(R2, R10);
      this.emit.add64Imm(R2, KEY_OFF);
      this.emit.mov64Reg(R3, R10);
      this.emit.add64Imm(R3, this.stack.init);
      this.emit.mov64Imm(R4, NOEXIST);
      this.emit.call(HELPER.map_update_elem);
      this.mapLookup(slot.name);
      this.bind(found);
    }
    this.toReturn0.push(this.emit.jeqImm(R0, 0, 0));
    this.store(dst, R0);
  }

  /** `r0 = bpf_map_lookup_elem(&map, &key)`, the key already on the stack */
  private mapLookup(map: string): void {
    this.emitLd64(R1, { symbol: map });
    this.emit.mov64Reg(R2, R10);
    this.emit.add64Imm(R2, KEY_OFF);
    this.emit.call(HELPER.map_lookup_elem);
  }

  /** `bpf_for(i, 0, nr_cpus) { e = bpf_per_cpu_ptr(src, i); if (e) global += e->field; }`, as kptr.h's macro expands. */
  private sum(src: string, fieldPath: string, global: string): void {
    const field = this.field(src, fieldPath);
    const gsize = scalarSize(this.scope.global(global).ctype);
    this.emitLd64(R3, { symbol: 'nr_cpus' });
    this.emit.ldx(4, R3, R3, 0);
    this.iterAddress();
    this.emit.mov32Imm(R2, 0);
    this.callExtern('bpf_iter_num_new');
    const top = this.insns.length;
    this.iterAddress();
    this.callExtern('bpf_iter_num_next');
    const exits = [this.emit.jeqImm(R0, 0, 0)];
    this.emit.ldx(4, R2, R0, 0);
    exits.push(this.emit.jslt32Imm(R2, 0, 0));
    this.emitLd64(R1, { symbol: 'nr_cpus' });
    this.emit.ldx(4, R1, R1, 0);
    exits.push(this.emit.jge32Reg(R2, R1, 0));
    this.load(R1, src);
    this.emit.call(HELPER.per_cpu_ptr);
    const nullCheck = this.emit.jeqImm(R0, 0, 0);
    this.loadField(R1, R0, field);
    this.globalAddress(R2, global);
    this.emit.ldx(gsize, R3, R2, 0);
    this.emit.add64Reg(R3, R1);
    this.emit.stx(gsize, R2, 0, R3);
    this.emit.ja(top - this.insns.length - 1);
    this.insns.setOff(nullCheck, top - nullCheck - 1);
    for (const jump of exits) this.bind(jump);
    this.iterAddress();
    this.callExtern('bpf_iter_num_destroy');
  }

  /** dst = ptr->field, sign-extended to 64 bits when the field is signed (as C converts it before the store). */
  private loadField(dst: number, ptr: number, field: { readonly off: number; readonly ctype: ScalarCType }): void {
    const size = scalarSize(field.ctype);
    this.emit.ldx(size, dst, ptr, field.off);
    if (size < 8 && scalarSigned(field.ctype)) {
      this.emit.lsh64Imm(dst, 64 - 8 * size);
      this.emit.arsh64Imm(dst, 64 - 8 * size);
    }
  }

  /**
   * reg = what holds the slot's kptr field (the element of the slot's last lookup, or the global itself); returns the
   * field's offset in it.
   */
  private slotBase(reg: number, slotName: string): number {
    const slot = this.scope.slot(slotName);
    if (slot.home.kind === 'global') {
      this.emitLd64(reg, { section: globalSlotSection(slot.name, slot.home.section) });
      return 0;
    }
    this.load(reg, this.scope.container(slotName));
    return ELEM_PC;
  }

  private globalAddress(reg: number, global: string): void {
    this.emitLd64(reg, { symbol: this.scope.global(global).name });
  }

  /** Byte offset and type of `ptr->field` (`sum` is at 0 in a map value). */
  private field(ptr: string, path: string): { readonly off: number; readonly ctype: ScalarCType } {
    const ctype = this.scope.fieldType(ptr, path);
    const pointee = this.scope.pointee(ptr);
    return pointee.kind === 'map_value' ? { off: 0, ctype } : fieldSlot(this.scope.scenario.structs, pointee.struct, path);
  }

  private load(reg: number, name: string): void {
    this.emit.ldx(8, reg, R10, this.stackSlot(name));
  }

  private store(name: string, reg: number): void {
    this.emit.stx(8, R10, this.stackSlot(name), reg);
  }

  private stackSlot(name: string): number {
    return this.stack.varOff(this.scope.varIndex(name));
  }

  /** dst = src->(the struct's member 0), the offset left to libbpf's CO-RE relocation */
  private coreLoad(dst: number, src: number, struct: KernelStructName): void {
    this.fieldRelocations.push({ offset: this.insns.length * 8, struct, accessStr: '0:0' });
    this.emit.ldx(8, dst, src, 0);
  }

  private callExtern(name: string): void {
    this.relocations.push({ offset: this.insns.length * 8, type: 'R_BPF_64_32', target: { symbol: name } });
    this.emit.callExtern();
  }

  private emitLd64(reg: number, target: ElfRelocation['target']): void {
    this.relocations.push({ offset: this.insns.length * 8, type: 'R_BPF_64_64', target });
    this.emit.ldImm64(reg, 0n);
  }

  /** The forward jump at slot `jump` goes to the next instruction. */
  private bind(jump: number): void {
    this.insns.setOff(jump, this.insns.length - jump - 1);
  }

  /** `return value;` */
  private return(value: number): void {
    this.emit.mov32Imm(R0, value);
    this.emit.exit();
  }

  /** r1 = the address of the num iterator on the stack */
  private iterAddress(): void {
    this.emit.mov64Reg(R1, R10);
    this.emit.add64Imm(R1, this.stack.iter);
  }

  private structId(name: string): number {
    return this.ctx.structIds.get(this.scope.struct(name)) as number;
  }
}

