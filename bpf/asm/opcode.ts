/**
 * The parts an opcode byte is built from, with the kernel's names (include/uapi/linux/bpf_common.h, bpf.h;
 * Documentation/bpf/standardization/instruction-set.rst). An opcode is `class | size | mode` for loads and stores,
 * `class | op | source` for ALU and jumps.
 */

// instruction classes, BPF_CLASS(code)
export const BPF_LD = 0x00;
export const BPF_LDX = 0x01;
export const BPF_ST = 0x02;
export const BPF_STX = 0x03;
export const BPF_ALU = 0x04;
export const BPF_JMP = 0x05;
export const BPF_JMP32 = 0x06;
export const BPF_ALU64 = 0x07;

// access sizes, BPF_SIZE(code)
export const BPF_W = 0x00;
export const BPF_H = 0x08;
export const BPF_B = 0x10;
export const BPF_DW = 0x18;

// load/store modes, BPF_MODE(code)
export const BPF_IMM = 0x00;
export const BPF_ABS = 0x20;
export const BPF_IND = 0x40;
export const BPF_MEM = 0x60;
/** v4: sign-extending load */
export const BPF_MEMSX = 0x80;
/**
 * Kernel-internal, never in an object: the verifier rewrites a load through an untrusted pointer to this mode
 * (BPF_LDX | BPF_PROBE_MEM | size), whose faults the exception table turns into 0 (include/linux/filter.h)
 */
export const BPF_PROBE_MEM = 0x20;
/** atomic read-modify-write; the operation is in imm */
export const BPF_ATOMIC = 0xc0;

// operand source, BPF_SRC(code)
export const BPF_K = 0x00;
export const BPF_X = 0x08;
/** BPF_END's source bit: convert to little / big endian */
export const BPF_TO_LE = 0x00;
export const BPF_TO_BE = 0x08;

// ALU operations, BPF_OP(code)
export const BPF_ADD = 0x00;
export const BPF_SUB = 0x10;
export const BPF_MUL = 0x20;
export const BPF_DIV = 0x30;
export const BPF_OR = 0x40;
export const BPF_AND = 0x50;
export const BPF_LSH = 0x60;
export const BPF_RSH = 0x70;
export const BPF_NEG = 0x80;
export const BPF_MOD = 0x90;
export const BPF_XOR = 0xa0;
export const BPF_MOV = 0xb0;
export const BPF_ARSH = 0xc0;
/** byte swap: BPF_ALU is le/be by source bit; v4 BPF_ALU64 is an unconditional bswap */
export const BPF_END = 0xd0;

// jump operations, BPF_OP(code)
export const BPF_JA = 0x00;
export const BPF_JEQ = 0x10;
export const BPF_JGT = 0x20;
export const BPF_JGE = 0x30;
export const BPF_JSET = 0x40;
export const BPF_JNE = 0x50;
export const BPF_JSGT = 0x60;
export const BPF_JSGE = 0x70;
export const BPF_CALL = 0x80;
export const BPF_EXIT = 0x90;
export const BPF_JLT = 0xa0;
export const BPF_JLE = 0xb0;
export const BPF_JSLT = 0xc0;
export const BPF_JSLE = 0xd0;
/** may_goto (src_reg BPF_MAY_GOTO), newer than v4 */
export const BPF_JCOND = 0xe0;
export const BPF_MAY_GOTO = 0;

// BPF_ATOMIC operations, in imm
/** with an ALU op in imm: also load the old value into src_reg */
export const BPF_FETCH = 0x01;
export const BPF_XCHG = 0xe0 | BPF_FETCH;
export const BPF_CMPXCHG = 0xf0 | BPF_FETCH;

// ld_imm64 src_reg: what the 64-bit immediate means (bpf.h, "insn[0].src_reg")
export const BPF_PSEUDO_MAP_FD = 1;
export const BPF_PSEUDO_MAP_VALUE = 2;
export const BPF_PSEUDO_BTF_ID = 3;
export const BPF_PSEUDO_FUNC = 4;
export const BPF_PSEUDO_MAP_IDX = 5;
export const BPF_PSEUDO_MAP_IDX_VALUE = 6;

// call src_reg: what imm names
/** imm is the pc-relative offset of a BPF-to-BPF call; clang also emits it, with imm -1, for relocated externs */
export const BPF_PSEUDO_CALL = 1;
/** imm is a kernel BTF id (libbpf rewrites extern calls to this) */
export const BPF_PSEUDO_KFUNC_CALL = 2;

export const BPF_CLASS = (code: number): number => code & 0x07;
export const BPF_SIZE = (code: number): number => code & 0x18;
export const BPF_MODE = (code: number): number => code & 0xe0;
export const BPF_OP = (code: number): number => code & 0xf0;
export const BPF_SRC = (code: number): number => code & 0x08;

/** Bytes moved by a load or store with opcode `code`. */
export function sizeBytes(code: number): 1 | 2 | 4 | 8 {
  switch (BPF_SIZE(code)) {
    case BPF_B:
      return 1;
    case BPF_H:
      return 2;
    case BPF_W:
      return 4;
    default:
      return 8;
  }
}

/** The BPF_SIZE of an access of `bytes` bytes. */
export function sizeOf(bytes: number): number {
  switch (bytes) {
    case 1:
      return BPF_B;
    case 2:
      return BPF_H;
    case 4:
      return BPF_W;
    case 8:
      return BPF_DW;
  }
  throw new RangeError(`no BPF access size of ${bytes} bytes`);
}

const CLASS_NAMES = ['BPF_LD', 'BPF_LDX', 'BPF_ST', 'BPF_STX', 'BPF_ALU', 'BPF_JMP', 'BPF_JMP32', 'BPF_ALU64'];
const SIZE_NAMES = ['BPF_W', 'BPF_H', 'BPF_B', 'BPF_DW'];
const MODE_NAMES = ['BPF_IMM', 'BPF_ABS', 'BPF_IND', 'BPF_MEM', 'BPF_MEMSX', '0xa0', 'BPF_ATOMIC', '0xe0'];
const ALU_NAMES = ['BPF_ADD', 'BPF_SUB', 'BPF_MUL', 'BPF_DIV', 'BPF_OR', 'BPF_AND', 'BPF_LSH', 'BPF_RSH', 'BPF_NEG', 'BPF_MOD', 'BPF_XOR', 'BPF_MOV', 'BPF_ARSH', 'BPF_END', '0xe0', '0xf0'];
const JMP_NAMES = ['BPF_JA', 'BPF_JEQ', 'BPF_JGT', 'BPF_JGE', 'BPF_JSET', 'BPF_JNE', 'BPF_JSGT', 'BPF_JSGE', 'BPF_CALL', 'BPF_EXIT', 'BPF_JLT', 'BPF_JLE', 'BPF_JSLT', 'BPF_JSLE', 'BPF_JCOND', '0xf0'];

/** The opcode as the kernel's C spells it, e.g. `BPF_ALU64 | BPF_MOV | BPF_K`, `BPF_LDX | BPF_MEM | BPF_W`. */
export function opcodeName(code: number): string {
  const cls = BPF_CLASS(code);
  const parts = [CLASS_NAMES[cls]!];
  if (cls === BPF_ALU || cls === BPF_ALU64) {
    const op = BPF_OP(code);
    parts.push(ALU_NAMES[op >> 4]!, op === BPF_END ? (BPF_SRC(code) === BPF_TO_BE ? 'BPF_TO_BE' : 'BPF_TO_LE') : BPF_SRC(code) === BPF_X ? 'BPF_X' : 'BPF_K');
  } else if (cls === BPF_JMP || cls === BPF_JMP32) {
    parts.push(JMP_NAMES[BPF_OP(code) >> 4]!, BPF_SRC(code) === BPF_X ? 'BPF_X' : 'BPF_K');
  } else {
    parts.push(MODE_NAMES[BPF_MODE(code) >> 5]!, SIZE_NAMES[BPF_SIZE(code) >> 3]!);
  }
  return parts.join(' | ');
}
