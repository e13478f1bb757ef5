import { BPF_DW, BPF_IMM, BPF_LD } from './opcode.ts';
import { ObjectFormatError } from '../ObjectFormatError.ts';

/**
 * One 8-byte instruction slot (struct bpf_insn): ld_imm64 takes two, the second with code 0 and the upper half of the
 * immediate in its imm. `off` and `imm` are signed, as in the kernel's struct.
 */
export interface Insn {
  readonly code: number;
  readonly dst: number;
  readonly src: number;
  readonly off: number;
  readonly imm: number;
}

/** BPF_LD | BPF_IMM | BPF_DW: the only two-slot instruction. */
export const LD_IMM64 = BPF_LD | BPF_IMM | BPF_DW;

export const isLdImm64 = (insn: Insn): boolean => insn.code === LD_IMM64;

/** The 64-bit immediate of an ld_imm64 and its second slot, unsigned. */
export function ldImm64Value(first: Insn, second: Insn): bigint {
  return (BigInt(second.imm >>> 0) << 32n) | BigInt(first.imm >>> 0);
}

/** The little-endian wire form of the instructions (the only byte order BPF objects here have). */
export function encodeInsns(insns: readonly Insn[]): Uint8Array {
  const out = new Uint8Array(insns.length * 8);
  const view = new DataView(out.buffer);
  for (let i = 0; i < insns.length; i++) {
    const x = insns[i] as Insn;
    view.setUint8(i * 8, x.code);
    view.setUint8(i * 8 + 1, ((x.src & 0xf) << 4) | (x.dst & 0xf));
    view.setInt16(i * 8 + 2, x.off, true);
    view.setInt32(i * 8 + 4, x.imm, true);
  }
  return out;
}

/**
 * The slots of little-endian instruction bytes (a code section), one Insn per 8 bytes; ld_imm64 stays two slots so
 * that indices are the kernel's instruction numbers.
 * @param where section name for the error, when the bytes are not a whole number of slots
 * @throws ObjectFormatError KPTR_OBJECT_MALFORMED
 */
export function decodeInsns(bytes: Uint8Array, where = 'instructions'): Insn[] {
  if (bytes.length % 8 !== 0) throw new ObjectFormatError(where, bytes.length - (bytes.length % 8), `${bytes.length} bytes is not a whole number of 8-byte instructions`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const out: Insn[] = new Array(bytes.length / 8);
  for (let i = 0; i < out.length; i++) {
    const regs = view.getUint8(i * 8 + 1);
    out[i] = { code: view.getUint8(i * 8), dst: regs & 0xf, src: regs >> 4, off: view.getInt16(i * 8 + 2, true), imm: view.getInt32(i * 8 + 4, true) };
  }
  return out;
}
