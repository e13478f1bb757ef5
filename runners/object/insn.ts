/**
 * eBPF instructions (include/uapi/linux/bpf.h, Documentation/bpf/standardization/instruction-set.rst):
 * the few encodings kptr-conform's programs need, as plain data, and their 8-byte wire form.
 */

/** One 8-byte instruction slot; ld_imm64 takes two, the second with code 0 and the upper imm. */
export interface Insn {
  readonly code: number;
  readonly dst: number;
  readonly src: number;
  readonly off: number;
  readonly imm: number;
}

export const R0 = 0, R1 = 1, R2 = 2, R3 = 3, R4 = 4, R10 = 10;

/** Access sizes of BPF_LDX/BPF_STX (BPF_W, BPF_H, BPF_B, BPF_DW) by byte count. */
const SIZE: Readonly<Record<number, number>> = { 4: 0x00, 2: 0x08, 1: 0x10, 8: 0x18 };

function sizeCode(bytes: number): number {
  const c = SIZE[bytes];
  if (c === undefined) throw new Error(`no BPF access size of ${bytes} bytes`);
  return c;
}

const insn = (code: number, dst: number, src: number, off: number, imm: number): Insn => ({ code, dst, src, off, imm });

/** BPF_PSEUDO_KFUNC_CALL's sibling for a relocated extern: clang emits `call -1` with src_reg 1, libbpf rewrites it. */
const CALL_EXTERN_SRC = 1;

export const I = {
  /** dst = imm (BPF_ALU64 | BPF_MOV | BPF_K), sign-extended */
  mov64Imm: (dst: number, imm: number): Insn => insn(0xb7, dst, 0, 0, imm),
  /** wdst = imm (BPF_ALU | BPF_MOV | BPF_K), upper half zeroed */
  mov32Imm: (dst: number, imm: number): Insn => insn(0xb4, dst, 0, 0, imm),
  mov64Reg: (dst: number, src: number): Insn => insn(0xbf, dst, src, 0, 0),
  add64Imm: (dst: number, imm: number): Insn => insn(0x07, dst, 0, 0, imm),
  add64Reg: (dst: number, src: number): Insn => insn(0x0f, dst, src, 0, 0),
  lsh64Imm: (dst: number, imm: number): Insn => insn(0x67, dst, 0, 0, imm),
  arsh64Imm: (dst: number, imm: number): Insn => insn(0xc7, dst, 0, 0, imm),
  /** dst = *(size *)(src + off), zero-extended */
  ldx: (bytes: number, dst: number, src: number, off: number): Insn => insn(0x61 | sizeCode(bytes), dst, src, off, 0),
  /** *(size *)(dst + off) = src */
  stx: (bytes: number, dst: number, off: number, src: number): Insn => insn(0x63 | sizeCode(bytes), dst, src, off, 0),
  /** both halves of `dst = imm64 ll` (BPF_LD | BPF_IMM | BPF_DW) */
  ldImm64: (dst: number, value: bigint): [Insn, Insn] => {
    const u = BigInt.asUintN(64, value);
    return [insn(0x18, dst, 0, 0, Number(BigInt.asIntN(32, u))), insn(0, 0, 0, 0, Number(BigInt.asIntN(32, u >> 32n)))];
  },
  call: (helper: number): Insn => insn(0x85, 0, 0, 0, helper),
  callExtern: (): Insn => insn(0x85, 0, CALL_EXTERN_SRC, 0, -1),
  exit: (): Insn => insn(0x95, 0, 0, 0, 0),
  ja: (off: number): Insn => insn(0x05, 0, 0, off, 0),
  /** if dst == imm goto +off */
  jeqImm: (dst: number, imm: number, off: number): Insn => insn(0x15, dst, 0, off, imm),
  jneImm: (dst: number, imm: number, off: number): Insn => insn(0x55, dst, 0, off, imm),
  /** if wdst s< imm goto +off (BPF_JMP32 | BPF_JSLT | BPF_K) */
  jslt32Imm: (dst: number, imm: number, off: number): Insn => insn(0xc6, dst, 0, off, imm),
  /** if wdst >= wsrc goto +off (BPF_JMP32 | BPF_JGE | BPF_X) */
  jge32Reg: (dst: number, src: number, off: number): Insn => insn(0x3e, dst, src, off, 0),
};

/** The little-endian wire form of the instructions (the only byte order BPF objects here have). */
export function encodeInsns(insns: readonly Insn[]): Uint8Array {
  const out = new Uint8Array(insns.length * 8);
  const view = new DataView(out.buffer);
  insns.forEach((x, i) => {
    view.setUint8(i * 8, x.code);
    view.setUint8(i * 8 + 1, ((x.src & 0xf) << 4) | (x.dst & 0xf));
    view.setInt16(i * 8 + 2, x.off, true);
    view.setInt32(i * 8 + 4, x.imm, true);
  });
  return out;
}
