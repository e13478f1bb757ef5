import { type Insn, type InsnBuffer, makeInsn } from './insn.ts';
import {
  BPF_ADD, BPF_ALU, BPF_ALU64, BPF_ARSH, BPF_CALL, BPF_DW, BPF_EXIT, BPF_IMM, BPF_JA, BPF_JEQ, BPF_JGE, BPF_JMP, BPF_JMP32,
  BPF_JNE, BPF_JSLT, BPF_K, BPF_LD, BPF_LDX, BPF_LSH, BPF_MEM, BPF_MOV, BPF_PSEUDO_CALL, BPF_STX, BPF_X, sizeOf,
} from './opcode.ts';

/** What a builder makes of one instruction slot's fields: an Insn (makeInsn), or the slot written into a buffer. */
export type SlotMaker<T> = (code: number, dst: number, src: number, off: number, imm: number) => T;

/**
 * Instruction builders, named as in the kernel's filter.h macros where it has them (BPF_MOV64_IMM, BPF_LDX_MEM, ...),
 * each slot made by `insn`.
 */
function insnBuilders<T>(insn: SlotMaker<T>) {
  return {
    /** dst = imm (BPF_ALU64 | BPF_MOV | BPF_K), sign-extended */
    mov64Imm: (dst: number, imm: number): T => insn(BPF_ALU64 | BPF_MOV | BPF_K, dst, 0, 0, imm),
    /** wdst = imm (BPF_ALU | BPF_MOV | BPF_K), upper half zeroed */
    mov32Imm: (dst: number, imm: number): T => insn(BPF_ALU | BPF_MOV | BPF_K, dst, 0, 0, imm),
    mov64Reg: (dst: number, src: number): T => insn(BPF_ALU64 | BPF_MOV | BPF_X, dst, src, 0, 0),
    add64Imm: (dst: number, imm: number): T => insn(BPF_ALU64 | BPF_ADD | BPF_K, dst, 0, 0, imm),
    add64Reg: (dst: number, src: number): T => insn(BPF_ALU64 | BPF_ADD | BPF_X, dst, src, 0, 0),
    lsh64Imm: (dst: number, imm: number): T => insn(BPF_ALU64 | BPF_LSH | BPF_K, dst, 0, 0, imm),
    arsh64Imm: (dst: number, imm: number): T => insn(BPF_ALU64 | BPF_ARSH | BPF_K, dst, 0, 0, imm),
    /** dst = *(size *)(src + off), zero-extended */
    ldx: (bytes: number, dst: number, src: number, off: number): T => insn(BPF_LDX | BPF_MEM | sizeOf(bytes), dst, src, off, 0),
    /** *(size *)(dst + off) = src */
    stx: (bytes: number, dst: number, off: number, src: number): T => insn(BPF_STX | BPF_MEM | sizeOf(bytes), dst, src, off, 0),
    /** both halves of `dst = imm64 ll` (BPF_LD | BPF_IMM | BPF_DW) */
    ldImm64: (dst: number, value: bigint): [T, T] => {
      // a non-negative s32 (a 0 left to a relocation, a BTF id: most of them) without BigInt arithmetic
      if (value >= 0n && value <= 0x7fffffffn) return [insn(BPF_LD | BPF_IMM | BPF_DW, dst, 0, 0, Number(value)), insn(0, 0, 0, 0, 0)];
      const u = BigInt.asUintN(64, value);
      return [insn(BPF_LD | BPF_IMM | BPF_DW, dst, 0, 0, Number(BigInt.asIntN(32, u))), insn(0, 0, 0, 0, Number(BigInt.asIntN(32, u >> 32n)))];
    },
    /** a helper call: imm is the helper's id (BPF_FUNC) */
    call: (helper: number): T => insn(BPF_JMP | BPF_CALL, 0, 0, 0, helper),
    /** a call of an extern (kfunc) as clang leaves it: src_reg BPF_PSEUDO_CALL, imm -1, and a relocation; libbpf rewrites it */
    callExtern: (): T => insn(BPF_JMP | BPF_CALL, 0, BPF_PSEUDO_CALL, 0, -1),
    exit: (): T => insn(BPF_JMP | BPF_EXIT, 0, 0, 0, 0),
    ja: (off: number): T => insn(BPF_JMP | BPF_JA, 0, 0, off, 0),
    /** if dst == imm goto +off */
    jeqImm: (dst: number, imm: number, off: number): T => insn(BPF_JMP | BPF_JEQ | BPF_K, dst, 0, off, imm),
    jneImm: (dst: number, imm: number, off: number): T => insn(BPF_JMP | BPF_JNE | BPF_K, dst, 0, off, imm),
    /** if wdst s< imm goto +off (BPF_JMP32 | BPF_JSLT | BPF_K) */
    jslt32Imm: (dst: number, imm: number, off: number): T => insn(BPF_JMP32 | BPF_JSLT | BPF_K, dst, 0, off, imm),
    /** if wdst >= wsrc goto +off (BPF_JMP32 | BPF_JGE | BPF_X) */
    jge32Reg: (dst: number, src: number, off: number): T => insn(BPF_JMP32 | BPF_JGE | BPF_X, dst, src, off, 0),
  };
}

/** The builders as Insn objects. */
export const I = insnBuilders(makeInsn);

/** The builders appending to `buffer`, each giving the index of the slot it wrote (no object per instruction). */
export function emitInto(buffer: InsnBuffer): InsnEmitter {
  return insnBuilders((code, dst, src, off, imm) => buffer.put(code, dst, src, off, imm));
}

export type InsnEmitter = ReturnType<typeof insnBuilders<number>>;
