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

/**
 * Instructions are made by this class, never as object literals: an imm beyond V8's small integers changes the
 * field's representation, and objects a literal made afterwards kept the deprecated shape and were each migrated on
 * first read (with one scenario per object, a third of the emulator runner's time went to the verifier's first pass
 * over its instructions).
 */
class BpfInsn implements Insn {
  constructor(readonly code: number, readonly dst: number, readonly src: number, readonly off: number, readonly imm: number) {}
}

/** One instruction slot. */
export const makeInsn = (code: number, dst: number, src: number, off: number, imm: number): Insn => new BpfInsn(code, dst, src, off, imm);

/** The 64-bit immediate of an ld_imm64 and its second slot, unsigned. */
export function ldImm64Value(first: Insn, second: Insn): bigint {
  return imm64(first.imm, second.imm);
}

/** The 64-bit immediate of an ld_imm64 from its two slots' imm fields, unsigned. */
export const imm64 = (lo: number, hi: number): bigint => (BigInt(hi >>> 0) << 32n) | BigInt(lo >>> 0);

/** The little-endian wire form of the instructions (the only byte order BPF objects here have). */
export function encodeInsns(insns: readonly Insn[]): Uint8Array {
  return wordBytes(insnWords(insns), insns.length);
}

/** the wire form of the first `n` slots of slot words (a view of them on a little-endian host) */
function wordBytes(words: Int32Array, n: number): Uint8Array {
  if (HOST_LE) return new Uint8Array(words.buffer, words.byteOffset, n * 8);
  const out = new Uint8Array(n * 8);
  const view = new DataView(out.buffer);
  for (let i = 0; i < 2 * n; i++) view.setInt32(i * 4, words[i]!, true);
  return out;
}

/**
 * Instruction slots appended as slot words into one growing typed array: a writer's code section, without an Insn
 * per slot (I.ts emitInto gives the builders that append to one).
 */
export class InsnBuffer {
  private words = new Int32Array(1024);
  /** slots written */
  length = 0;

  /** appends the slot of these fields; its index */
  put(code: number, dst: number, src: number, off: number, imm: number): number {
    if (2 * this.length + 2 > this.words.length) {
      const grown = new Int32Array(2 * this.words.length);
      grown.set(this.words);
      this.words = grown;
    }
    this.words[2 * this.length] = slotWord(code, dst, src, off);
    this.words[2 * this.length + 1] = imm;
    return this.length++;
  }

  /** sets the `off` of slot `i` (a jump whose target is known only later) */
  setOff(i: number, off: number): void {
    this.words[2 * i] = (this.words[2 * i]! & 0xffff) | (off << 16);
  }

  /** the wire form of the slots written (a view of the buffer on a little-endian host: take it when done writing) */
  bytes(): Uint8Array {
    return wordBytes(this.words, this.length);
  }
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
    out[i] = new BpfInsn(view.getUint8(i * 8), regs & 0xf, regs >> 4, view.getInt16(i * 8 + 2, true), view.getInt32(i * 8 + 4, true));
  }
  return out;
}

/**
 * Instruction slots as the loader links them and the interpreter runs them: two 32-bit words per struct bpf_insn,
 * `code | dst_reg << 8 | src_reg << 12 | off << 16` then `imm` (the little-endian wire form read as two u32), in one
 * typed array instead of an object per slot.
 */
export const HOST_LE = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;

/** the first word of a slot */
export const slotWord = (code: number, dst: number, src: number, off: number): number =>
  (code & 0xff) | ((dst & 0xf) << 8) | ((src & 0xf) << 12) | (off << 16);

/** little-endian instruction bytes (a code section) as slot words; errors as decodeInsns */
export function decodeInsnWords(bytes: Uint8Array, where = 'instructions'): Int32Array {
  if (bytes.length % 8 !== 0) throw new ObjectFormatError(where, bytes.length - (bytes.length % 8), `${bytes.length} bytes is not a whole number of 8-byte instructions`);
  const out = new Int32Array(bytes.length / 4);
  if (HOST_LE) {
    new Uint8Array(out.buffer).set(bytes);
    return out;
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  for (let i = 0; i < out.length; i++) out[i] = view.getInt32(i * 4, true);
  return out;
}

/** the fields of slot `i` of slot words, read without an Insn */
export const slotCode = (words: Int32Array, i: number): number => words[2 * i]! & 0xff;
export const slotDst = (words: Int32Array, i: number): number => (words[2 * i]! >>> 8) & 0xf;
export const slotSrc = (words: Int32Array, i: number): number => (words[2 * i]! >>> 12) & 0xf;
export const slotOff = (words: Int32Array, i: number): number => words[2 * i]! >> 16;
export const slotImm = (words: Int32Array, i: number): number => words[2 * i + 1]!;

export function insnWords(insns: readonly Insn[]): Int32Array {
  const out = new Int32Array(insns.length * 2);
  for (let i = 0; i < insns.length; i++) {
    setSlot(out, i, insns[i]!);
  }
  return out;
}

/** writes `insn` as slot `i` of slot words */
function setSlot(words: Int32Array, i: number, insn: Insn): void {
  words[2 * i] = slotWord(insn.code, insn.dst, insn.src, insn.off);
  words[2 * i + 1] = insn.imm;
}

/** slot `i` of slot words as an Insn */
export function insnAt(words: Int32Array, i: number): Insn {
  return new BpfInsn(slotCode(words, i), slotDst(words, i), slotSrc(words, i), slotOff(words, i), slotImm(words, i));
}
