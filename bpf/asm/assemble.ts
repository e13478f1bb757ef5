import { type Insn, makeInsn } from './insn.ts';
import * as op from './opcode.ts';

/**
 * An assembler for the text of bpf_conformance's tests (`-- asm` sections; github Alan-Jowett/bpf_conformance,
 * src/bpf_assembler.cc): `mov %r0, 1`, `ldxw %r1, [%r10-4]`, `jne %r0, 15, failed`, `lock fetch add [%r1+8], %r2`,
 * `lddw %r0, 0x80000000`, `call local func1`, labels `name:`, comments `# ...`. Mnemonics without a suffix or with `64`
 * are 64-bit, with `32` 32-bit; `movsx<from><to>` (movsx864, movsx1632, ...), `sdiv`/`smod`, `bswap64` (or `swap64`),
 * `ldxsb`/`ldxsh`/`ldxsw` and `ja32` are the v4 forms. The first `exit` is also the label `exit`.
 * @throws SyntaxError naming the line
 */
export function assemble(text: string): Insn[] {
  const out: Insn[] = [];
  const labels = new Map<string, number>();
  const fixups: { at: number; label: string; line: number; field: 'off' | 'imm' }[] = [];
  text.split('\n').forEach((raw, index) => {
    const line = index + 1;
    const words = raw.trim().split(/\s+/).filter((w) => w !== '');
    const comment = words.findIndex((w) => w.startsWith('#'));
    if (comment >= 0) words.length = comment;
    if (words.length === 0) return;
    const [mnemonic, ...rest] = words as [string, ...string[]];
    const operands = rest.map((w) => w.replace(/,$/, ''));
    const fail = (what: string): never => {
      throw new SyntaxError(`line ${line}: ${what}: ${raw.trim()}`);
    };
    if (mnemonic.endsWith(':')) {
      const label = mnemonic.slice(0, -1);
      if (labels.has(label)) fail(`duplicate label ${label}`);
      labels.set(label, out.length);
      return;
    }
    if (mnemonic === 'exit' && !labels.has('exit')) labels.set('exit', out.length);
    const target = (operand: string, field: 'off' | 'imm'): number => {
      if (/^[+-]/.test(operand)) return number(operand, 16, fail);
      fixups.push({ at: out.length, label: operand, line, field });
      return 0;
    };
    out.push(...encode(mnemonic, operands, fail, target));
  });
  for (const f of fixups) {
    const to = labels.get(f.label);
    if (to === undefined) throw new SyntaxError(`line ${f.line}: unknown label ${f.label}`);
    out[f.at] = { ...out[f.at]!, [f.field]: to - f.at - 1 };
  }
  return out;
}

type Fail = (what: string) => never;
type Target = (operand: string, field: 'off' | 'imm') => number;

const insn = makeInsn;

const ALU_OPS: Readonly<Record<string, number>> = {
  add: op.BPF_ADD, sub: op.BPF_SUB, mul: op.BPF_MUL, div: op.BPF_DIV, sdiv: op.BPF_DIV, or: op.BPF_OR, and: op.BPF_AND,
  lsh: op.BPF_LSH, rsh: op.BPF_RSH, neg: op.BPF_NEG, mod: op.BPF_MOD, smod: op.BPF_MOD, xor: op.BPF_XOR, mov: op.BPF_MOV,
  arsh: op.BPF_ARSH,
};
const JMP_OPS: Readonly<Record<string, number>> = {
  jeq: op.BPF_JEQ, jgt: op.BPF_JGT, jge: op.BPF_JGE, jset: op.BPF_JSET, jne: op.BPF_JNE, jsgt: op.BPF_JSGT, jsge: op.BPF_JSGE,
  jlt: op.BPF_JLT, jle: op.BPF_JLE, jslt: op.BPF_JSLT, jsle: op.BPF_JSLE,
};
const SIZES: Readonly<Record<string, number>> = { b: op.BPF_B, h: op.BPF_H, w: op.BPF_W, dw: op.BPF_DW };
const ATOMIC_OPS: Readonly<Record<string, number>> = { add: op.BPF_ADD, and: op.BPF_AND, or: op.BPF_OR, xor: op.BPF_XOR, xchg: op.BPF_XCHG, cmpxchg: op.BPF_CMPXCHG };

function encode(mnemonic: string, operands: string[], fail: Fail, target: Target): Insn[] {
  const want = (n: number): void => {
    if (operands.length !== n) fail(`${mnemonic} takes ${n} operands`);
  };
  const reg = (i: number): number => register(operands[i] ?? fail('missing operand'), fail);
  const src = (i: number): { code: number; src: number; imm: number } =>
    operands[i]?.startsWith('%') ? { code: op.BPF_X, src: reg(i), imm: 0 } : { code: op.BPF_K, src: 0, imm: number(operands[i] ?? fail('missing operand'), 32, fail) };

  if (mnemonic === 'exit') return want(0), [insn(op.BPF_JMP | op.BPF_EXIT, 0, 0, 0, 0)];
  if (mnemonic === 'ja') return want(1), [insn(op.BPF_JMP | op.BPF_JA, 0, 0, target(operands[0]!, 'off'), 0)];
  if (mnemonic === 'ja32') return want(1), [insn(op.BPF_JMP32 | op.BPF_JA, 0, 0, 0, target(operands[0]!, 'imm'))];
  if (mnemonic === 'call') {
    const [mode, to] = operands.length === 1 ? ['helper', operands[0]!] : (want(2), [operands[0]!, operands[1]!]);
    const call = op.BPF_JMP | op.BPF_CALL;
    if (mode === 'helper') return [to.startsWith('%') ? insn(call | op.BPF_X, register(to, fail), 0, 0, 0) : insn(call, 0, 0, 0, number(to, 32, fail))];
    if (mode === 'local') return [insn(call, 0, op.BPF_PSEUDO_CALL, 0, target(to, 'imm'))];
    if (mode === 'runtime') return [insn(call, 0, op.BPF_PSEUDO_KFUNC_CALL, 0, number(to, 32, fail))];
    return fail(`unknown call mode ${mode}`);
  }
  if (mnemonic === 'lddw') {
    want(2);
    const v = BigInt.asUintN(64, parse(operands[1]!, fail));
    return [insn(op.BPF_LD | op.BPF_IMM | op.BPF_DW, reg(0), 0, 0, Number(BigInt.asIntN(32, v))), insn(0, 0, 0, 0, Number(BigInt.asIntN(32, v >> 32n)))];
  }
  if (mnemonic === 'lock') {
    // lock [fetch] <op>[32] [%rD+off], %rS
    const fetch = operands[0] === 'fetch';
    const [name, mem, s] = fetch ? operands.slice(1) : operands;
    if (name === undefined || mem === undefined || s === undefined || operands.length !== (fetch ? 4 : 3)) return fail('lock takes [fetch] op, [reg+off], reg');
    const wide = !name.endsWith('32');
    const aop = ATOMIC_OPS[wide ? name : name.slice(0, -2)] ?? fail(`unknown atomic operation ${name}`);
    const { reg: dst, off } = memory(mem, fail);
    return [insn(op.BPF_STX | op.BPF_ATOMIC | (wide ? op.BPF_DW : op.BPF_W), dst, register(s, fail), off, aop | (fetch ? op.BPF_FETCH : 0))];
  }
  const ldst = /^(ldxs|ldx|stx|st)(b|h|w|dw)$/.exec(mnemonic);
  if (ldst) {
    want(2);
    const size = SIZES[ldst[2]!]!;
    if (ldst[1] === 'ldx' || ldst[1] === 'ldxs') {
      const m = memory(operands[1]!, fail);
      return [insn(op.BPF_LDX | (ldst[1] === 'ldxs' ? op.BPF_MEMSX : op.BPF_MEM) | size, reg(0), m.reg, m.off, 0)];
    }
    const m = memory(operands[0]!, fail);
    if (ldst[1] === 'stx') return [insn(op.BPF_STX | op.BPF_MEM | size, m.reg, reg(1), m.off, 0)];
    return [insn(op.BPF_ST | op.BPF_MEM | size, m.reg, 0, m.off, number(operands[1]!, 32, fail))];
  }
  const end = /^(be|le|b?swap)(16|32|64)$/.exec(mnemonic);
  if (end) {
    want(1);
    const code = end[1]!.endsWith('swap') ? op.BPF_ALU64 | op.BPF_END : op.BPF_ALU | op.BPF_END | (end[1] === 'be' ? op.BPF_TO_BE : op.BPF_TO_LE);
    return [insn(code, reg(0), 0, 0, Number(end[2]))];
  }
  const jmp = /^(j[a-z]+?)(32)?$/.exec(mnemonic);
  if (jmp && JMP_OPS[jmp[1]!] !== undefined) {
    want(3);
    const s = src(1);
    return [insn((jmp[2] ? op.BPF_JMP32 : op.BPF_JMP) | JMP_OPS[jmp[1]!]! | s.code, reg(0), s.src, target(operands[2]!, 'off'), s.imm)];
  }
  const alu = /^(movsx(8|16|32)|[a-z]+?)(32|64)?$/.exec(mnemonic);
  const name = alu?.[2] ? 'mov' : alu?.[1];
  if (alu && name !== undefined && ALU_OPS[name] !== undefined) {
    const cls = alu[3] === '32' ? op.BPF_ALU : op.BPF_ALU64;
    const off = alu[2] ? Number(alu[2]) : name === alu[1] && /^s(div|mod)$/.test(name) ? 1 : 0;
    if (name === 'neg') return want(1), [insn(cls | op.BPF_NEG, reg(0), 0, 0, 0)];
    want(2);
    const s = src(1);
    return [insn(cls | ALU_OPS[name]! | s.code, reg(0), s.src, off, s.imm)];
  }
  return fail(`unknown mnemonic ${mnemonic}`);
}

function register(operand: string, fail: Fail): number {
  const m = /^%r(\d+)$/.exec(operand);
  const r = m ? Number(m[1]) : NaN;
  // r11-r15 exist only for negative tests, which check that a machine refuses them
  return r >= 0 && r <= 15 ? r : fail(`bad register ${operand}`);
}

/** `[%r1]`, `[%r10-4]`, `[%r2+0x10]` */
function memory(operand: string, fail: Fail): { reg: number; off: number } {
  const m = /^\[(%r\d+)([+-][0-9a-fA-Fx]+)?\]$/.exec(operand) ?? fail(`bad memory operand ${operand}`);
  return { reg: register(m[1]!, fail), off: m[2] ? number(m[2], 16, fail) : 0 };
}

/** A decimal or 0x number, wrapped to `bits` and read as signed (as the C assembler's casts do). */
function number(text: string, bits: 16 | 32, fail: Fail): number {
  return Number(BigInt.asIntN(bits, parse(text, fail)));
}

function parse(text: string, fail: Fail): bigint {
  const m = /^([+-]?)(0x[0-9a-fA-F]+|\d+)$/.exec(text) ?? fail(`bad number ${text}`);
  const v = BigInt(m[2]!);
  return m[1] === '-' ? -v : v;
}
