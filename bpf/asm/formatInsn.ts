import { BPF_FUNC } from './funcIds.ts';
import { isLdImm64, ldImm64Value, type Insn } from './insn.ts';
import {
  BPF_ADD, BPF_ALU, BPF_ALU64, BPF_AND, BPF_ATOMIC, BPF_CALL, BPF_CLASS, BPF_CMPXCHG, BPF_DIV, BPF_DW, BPF_EXIT, BPF_FETCH,
  BPF_IMM, BPF_JA, BPF_JCOND, BPF_JMP, BPF_JMP32, BPF_LD, BPF_LDX, BPF_MAY_GOTO, BPF_MEM, BPF_MEMSX, BPF_MOD, BPF_MODE, BPF_MOV,
  BPF_NEG, BPF_OP, BPF_OR, BPF_PSEUDO_CALL, BPF_PSEUDO_KFUNC_CALL, BPF_PSEUDO_MAP_FD, BPF_PSEUDO_MAP_VALUE, BPF_SIZE, BPF_SRC,
  BPF_ST, BPF_STX, BPF_TO_BE, BPF_X, BPF_XCHG, BPF_XOR, BPF_ABS, BPF_IND, BPF_END,
} from './opcode.ts';

/**
 * The kernel's instruction printer (kernel/bpf/disasm.c print_bpf_insn), which writes the instruction lines of a
 * verifier log: `(07) r2 += -4`, `(85) call bpf_map_lookup_elem#1`. Strings and formats are disasm.c's.
 */

const CLASS = ['ld', 'ldx', 'st', 'stx', 'alu', 'jmp', 'jmp32', 'alu64'];
const ALU = ['+=', '-=', '*=', '/=', '|=', '&=', '<<=', '>>=', 'neg', '%=', '^=', '=', 's>>=', 'endian'];
const ALU_SIGN: Readonly<Record<number, string>> = { [BPF_DIV >> 4]: 's/=', [BPF_MOD >> 4]: 's%=' };
const MOVSX: Readonly<Record<number, string>> = { 0: '(s8)', 1: '(s16)', 3: '(s32)' };
const ATOMIC_ALU: Readonly<Record<number, string>> = { [BPF_ADD >> 4]: 'add', [BPF_AND >> 4]: 'and', [BPF_OR >> 4]: 'or', [BPF_XOR >> 4]: 'xor' };
const ATOMIC_OPS = new Set([BPF_ADD, BPF_AND, BPF_OR, BPF_XOR]);
const ATOMIC_FETCH_OPS = new Set([...ATOMIC_OPS].map((op) => op | BPF_FETCH));
const LDST = ['u32', 'u16', 'u8', 'u64'];
const LDSX = ['s32', 's16', 's8'];
const JMP = ['jmp', '==', '>', '>=', '&', '!=', 's>', 's>=', 'call', 'exit', '<', '<=', 's<', 's<='];
/** BPF_ADDR_SPACE_CAST, in off of a 64-bit mov */
const ADDR_SPACE_CAST = 1;

const FUNC_NAMES: readonly (string | undefined)[] = (() => {
  const names: string[] = [];
  for (const [name, id] of Object.entries(BPF_FUNC)) names[id] = `bpf_${name}`;
  return names;
})();

/** The kernel's func_id_name: `bpf_map_lookup_elem` for 1, `unknown` for an id it has no helper for. */
export function funcIdName(id: number): string {
  return FUNC_NAMES[id] ?? 'unknown';
}

/** What the caller of print_bpf_insn supplies (struct bpf_insn_cbs); the verifier supplies only callName. */
export interface FormatInsnOptions {
  /**
   * cb_call: the name of a called function the helper table does not name (kfuncs, `src_reg` != 0), or null to fall
   * back to disasm.c's. The verifier's (disasm_kfunc_name) names kfuncs from the kernel BTF id in imm.
   */
  readonly callName?: (insn: Insn) => string | null;
  /** cb_imm: how an ld_imm64's value is shown (bpftool prints `map[id:4]`); default `0x%llx` */
  readonly imm?: (insn: Insn, value: bigint) => string;
  /** allow_ptr_leaks: false prints map addresses (BPF_PSEUDO_MAP_FD/VALUE) as 0, as for unprivileged loads */
  readonly allowPtrLeaks?: boolean;
}

const signed = (n: number): string => (n < 0 ? `${n}` : `+${n}`);
const hex = (n: number): string => `0x${(n >>> 0).toString(16)}`;
const reg = (wide: boolean, r: number): string => `${wide ? 'r' : 'w'}${r}`;
const code2 = (code: number): string => code.toString(16).padStart(2, '0');

/**
 * One instruction as print_bpf_insn prints it, without the `N: ` index and newline the verifier adds.
 * @param next the following slot, needed for ld_imm64 (its upper half)
 */
export function formatInsn(insn: Insn, next: Insn | null = null, options: FormatInsnOptions = {}): string {
  const c = insn.code;
  const cls = BPF_CLASS(c);
  const head = `(${code2(c)})`;
  const opName = (): string => ((BPF_OP(c) === BPF_DIV || BPF_OP(c) === BPF_MOD) && insn.off === 1 ? ALU_SIGN[BPF_OP(c) >> 4]! : ALU[BPF_OP(c) >> 4]!);
  if (cls === BPF_ALU || cls === BPF_ALU64) {
    const wide = cls === BPF_ALU64;
    if (BPF_OP(c) === BPF_END) {
      if (wide) return `${head} r${insn.dst} = bswap${insn.imm} r${insn.dst}`;
      return `${head} r${insn.dst} = ${BPF_SRC(c) === BPF_TO_BE ? 'be' : 'le'}${insn.imm} r${insn.dst}`;
    }
    if (BPF_OP(c) === BPF_NEG) return `${head} ${reg(wide, insn.dst)} = -${reg(wide, insn.dst)}`;
    if (c === (BPF_ALU64 | BPF_MOV | BPF_X) && insn.off === ADDR_SPACE_CAST) {
      return `${head} r${insn.dst} = addr_space_cast(r${insn.src}, ${insn.imm >>> 16}, ${insn.imm & 0xffff})`;
    }
    if (BPF_SRC(c) === BPF_X) {
      const movsx = BPF_OP(c) === BPF_MOV && (insn.off === 8 || insn.off === 16 || insn.off === 32) ? (MOVSX[(insn.off >> 3) - 1] ?? '') : '';
      return `${head} ${reg(wide, insn.dst)} ${opName()} ${movsx}${reg(wide, insn.src)}`;
    }
    return `${head} ${reg(wide, insn.dst)} ${opName()} ${insn.imm}`;
  }
  const size = LDST[BPF_SIZE(c) >> 3]!;
  if (cls === BPF_STX) {
    if (BPF_MODE(c) === BPF_MEM) return `${head} *(${size} *)(r${insn.dst} ${signed(insn.off)}) = r${insn.src}`;
    if (BPF_MODE(c) === BPF_ATOMIC) {
      const bits = BPF_SIZE(c) === BPF_DW ? '64' : '';
      const at = `(${size} *)(r${insn.dst} ${signed(insn.off)})`;
      if (ATOMIC_OPS.has(insn.imm)) return `${head} lock *${at} ${ALU[BPF_OP(insn.imm) >> 4]} r${insn.src}`;
      if (ATOMIC_FETCH_OPS.has(insn.imm)) return `${head} r${insn.src} = atomic${bits}_fetch_${ATOMIC_ALU[BPF_OP(insn.imm) >> 4]}(${at}, r${insn.src})`;
      if (insn.imm === BPF_CMPXCHG) return `${head} r0 = atomic${bits}_cmpxchg(${at}, r0, r${insn.src})`;
      if (insn.imm === BPF_XCHG) return `${head} r${insn.src} = atomic${bits}_xchg(${at}, r${insn.src})`;
    }
    return `BUG_${code2(c)}`;
  }
  if (cls === BPF_ST) {
    if (BPF_MODE(c) === BPF_MEM) return `${head} *(${size} *)(r${insn.dst} ${signed(insn.off)}) = ${insn.imm}`;
    if (BPF_MODE(c) === 0xc0) return `${head} nospec`; // BPF_NOSPEC, not in the UAPI
    return `BUG_st_${code2(c)}`;
  }
  if (cls === BPF_LDX) {
    if (BPF_MODE(c) !== BPF_MEM && BPF_MODE(c) !== BPF_MEMSX) return `BUG_ldx_${code2(c)}`;
    return `${head} r${insn.dst} = *(${BPF_MODE(c) === BPF_MEM ? size : LDSX[BPF_SIZE(c) >> 3]} *)(r${insn.src} ${signed(insn.off)})`;
  }
  if (cls === BPF_LD) {
    if (BPF_MODE(c) === BPF_ABS) return `${head} r0 = *(${size} *)skb[${insn.imm}]`;
    if (BPF_MODE(c) === BPF_IND) return `${head} r0 = *(${size} *)skb[r${insn.src} + ${insn.imm}]`;
    if (BPF_MODE(c) === BPF_IMM && BPF_SIZE(c) === BPF_DW) {
      const isPtr = insn.src === BPF_PSEUDO_MAP_FD || insn.src === BPF_PSEUDO_MAP_VALUE;
      let value = next === null ? BigInt(insn.imm >>> 0) : ldImm64Value(insn, next);
      if (isPtr && options.allowPtrLeaks === false) value = 0n;
      return `${head} r${insn.dst} = ${options.imm ? options.imm(insn, value) : `0x${value.toString(16)}`}`;
    }
    return `BUG_ld_${code2(c)}`;
  }
  if (cls === BPF_JMP || cls === BPF_JMP32) {
    const op = BPF_OP(c);
    if (op === BPF_CALL) {
      const name = callName(insn, options);
      return insn.src === BPF_PSEUDO_CALL ? `${head} call pc${name}` : `${head} call ${name}#${insn.imm}`;
    }
    if (c === (BPF_JMP | BPF_JA)) return `${head} goto pc${signed(insn.off)}`;
    if (c === (BPF_JMP | BPF_JCOND) && insn.src === BPF_MAY_GOTO) return `${head} may_goto pc${signed(insn.off)}`;
    if (c === (BPF_JMP32 | BPF_JA)) return `${head} gotol pc${signed(insn.imm)}`;
    if (c === (BPF_JMP | BPF_EXIT)) return `${head} exit`;
    const wide = cls === BPF_JMP;
    if (BPF_SRC(c) === BPF_X) return `${head} if ${reg(wide, insn.dst)} ${JMP[op >> 4]} ${reg(wide, insn.src)} goto pc${signed(insn.off)}`;
    return `${head} if ${reg(wide, insn.dst)} ${JMP[op >> 4]} ${hex(insn.imm)} goto pc${signed(insn.off)}`;
  }
  return `${head} ${CLASS[cls]}`;
}

/** __func_get_name: the helper's name, else the caller's, else `+imm` (BPF-to-BPF) / `kernel-function` / `unknown`. */
function callName(insn: Insn, options: FormatInsnOptions): string {
  if (insn.src === 0 && FUNC_NAMES[insn.imm] !== undefined) return FUNC_NAMES[insn.imm]!;
  const named = options.callName?.(insn) ?? null;
  if (named !== null) return named;
  if (insn.src === BPF_PSEUDO_CALL) return signed(insn.imm);
  if (insn.src === BPF_PSEUDO_KFUNC_CALL) return 'kernel-function';
  return 'unknown';
}

/**
 * A program as the verifier log numbers it (`3: (07) r2 += -4`): one line per instruction, ld_imm64 on one line
 * with the index of its first slot.
 */
export function formatInsns(insns: readonly Insn[], options: FormatInsnOptions = {}): string[] {
  const lines: string[] = [];
  for (let i = 0; i < insns.length; i++) {
    const x = insns[i]!;
    const wide = isLdImm64(x);
    lines.push(`${i}: ${formatInsn(x, wide ? (insns[i + 1] ?? null) : null, options)}`);
    if (wide) i++;
  }
  return lines;
}
