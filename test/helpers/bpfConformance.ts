import type { Insn } from '../../bpf/asm/insn.ts';

/**
 * The bpf_conformance test format (github Alan-Jowett/bpf_conformance, lib/src/bpf_test_parser.cc) and its assembly
 * syntax (lib/src/bpf_assembler.cc), rewritten in TypeScript for the emulator's ISA tests. Follows the reference
 * assembler's rules: `%rN` registers, `[%rN+off]` memory operands, labels (`name:`; the first `exit` is also the
 * label `exit`), `+N`/`-N` or label jump targets, `call N` (helper), `call local label`, `lock [fetch] op` atomics.
 */
export interface ConformanceTest {
  readonly name: string;
  readonly insns: readonly Insn[];
  /** the `-- mem` bytes (r1 points at them, r2 is their length) */
  readonly mem: Uint8Array;
  /** the `-- result`: r0 after exit, unsigned */
  readonly result: bigint;
}

const ALU_OPS: Readonly<Record<string, number>> = {
  add: 0x0, sub: 0x1, mul: 0x2, div: 0x3, sdiv: 0x3, or: 0x4, and: 0x5, lsh: 0x6, rsh: 0x7, neg: 0x8, mod: 0x9, smod: 0x9,
  xor: 0xa, mov: 0xb, movsx: 0xb, arsh: 0xc,
};
const JMP_OPS: Readonly<Record<string, number>> = {
  jeq: 0x1, jgt: 0x2, jge: 0x3, jset: 0x4, jne: 0x5, jsgt: 0x6, jsge: 0x7, jlt: 0xa, jle: 0xb, jslt: 0xc, jsle: 0xd,
};
const LDX: Readonly<Record<string, number>> = { ldxb: 0x71, ldxh: 0x69, ldxw: 0x61, ldxdw: 0x79, ldxsb: 0x91, ldxsh: 0x89, ldxsw: 0x81 };
const STX: Readonly<Record<string, number>> = { stxb: 0x73, stxh: 0x6b, stxw: 0x63, stxdw: 0x7b };
const ST: Readonly<Record<string, number>> = { stb: 0x72, sth: 0x6a, stw: 0x62, stdw: 0x7a };
const ATOMIC_OPS: Readonly<Record<string, number>> = { add: 0x00, or: 0x40, and: 0x50, xor: 0xa0, xchg: 0xe1, cmpxchg: 0xf1 };
const BPF_FETCH = 0x01;

function reg(s: string): number {
  const m = /^%r(\d+)$/.exec(s);
  if (!m || Number(m[1]) > 15) throw new Error(`invalid register: ${s}`);
  return Number(m[1]);
}

function imm32(s: string): number {
  if (s.includes('0x')) {
    const v = BigInt(s);
    if (v > 0xffffffffn || v < -0xffffffffn) throw new Error(`immediate out of 32-bit range: ${s}`);
    return Number(BigInt.asIntN(32, v));
  }
  const v = Number(s);
  if (!Number.isInteger(v) || v < -(2 ** 31) || v >= 2 ** 31) throw new Error(`immediate out of 32-bit range: ${s}`);
  return v;
}

function offset16(s: string): number {
  const v = s.includes('0x') ? Number(BigInt.asIntN(16, BigInt(s.replace(/^\+/, '')))) : Number(s);
  if (!Number.isInteger(v) || v < -32768 || v > 65535) throw new Error(`offset out of 16-bit range: ${s}`);
  return (v << 16) >> 16;
}

function memOperand(s: string): [number, number] {
  const m = /^\[(%r\d+)([+-].+)?\]$/.exec(s);
  if (!m) throw new Error(`failed to decode register and offset: ${s}`);
  return [reg(m[1] as string), m[2] ? offset16(m[2]) : 0];
}

const insn = (code: number, dst = 0, src = 0, off = 0, imm = 0): Insn => ({ code, dst, src, off, imm });

/** Assembles one test's `-- asm` lines. */
export function assemble(lines: readonly string[]): Insn[] {
  const out: Insn[] = [];
  const labels = new Map<string, number>();
  /** instruction index → label its jump (or call) targets */
  const fixups: { at: number; label: string; field: 'off' | 'imm' }[] = [];
  let sawExit = false;
  const target = (s: string, field: 'off' | 'imm'): number => {
    if (s.startsWith('+') || s.startsWith('-')) return offset16(s);
    fixups.push({ at: out.length, label: s, field });
    return 0;
  };
  for (const line of lines) {
    const words = line.trim().split(/\s+/).filter((w) => w !== '').map((w) => w.replace(/,$/, ''));
    if (words.length === 0) continue;
    let [mnemonic, ...ops] = words as [string, ...string[]];
    if (mnemonic.endsWith(':')) {
      labels.set(mnemonic.slice(0, -1), out.length);
      continue;
    }
    if (mnemonic === 'exit') {
      if (!sawExit) labels.set('exit', out.length);
      sawExit = true;
      out.push(insn(0x95));
      continue;
    }
    if (mnemonic === 'lddw') {
      const v = BigInt.asUintN(64, BigInt(ops[1] as string));
      out.push(insn(0x18, reg(ops[0] as string), 0, 0, Number(BigInt.asIntN(32, v))), insn(0, 0, 0, 0, Number(BigInt.asIntN(32, v >> 32n))));
      continue;
    }
    if (mnemonic in LDX) {
      const [src, off] = memOperand(ops[1] as string);
      out.push(insn(LDX[mnemonic] as number, reg(ops[0] as string), src, off));
      continue;
    }
    if (mnemonic in STX) {
      const [dst, off] = memOperand(ops[0] as string);
      out.push(insn(STX[mnemonic] as number, dst, reg(ops[1] as string), off));
      continue;
    }
    if (mnemonic in ST) {
      const [dst, off] = memOperand(ops[0] as string);
      out.push(insn(ST[mnemonic] as number, dst, 0, off, imm32(ops[1] as string)));
      continue;
    }
    if (mnemonic === 'lock') {
      const fetch = ops[0] === 'fetch';
      if (fetch) ops = ops.slice(1);
      let op = ops[0] as string;
      const is32 = op.endsWith('32');
      if (is32) op = op.slice(0, -2);
      const code = ATOMIC_OPS[op];
      if (code === undefined) throw new Error(`invalid atomic op: ${op}`);
      const [dst, off] = memOperand(ops[1] as string);
      out.push(insn(is32 ? 0xc3 : 0xdb, dst, reg(ops[2] as string), off, code | (fetch ? BPF_FETCH : 0)));
      continue;
    }
    const swap = /^(be|le|swap|bswap)(16|32|64)$/.exec(mnemonic);
    if (swap) {
      const code = swap[1] === 'le' ? 0xd4 : swap[1] === 'be' ? 0xdc : 0xd7;
      out.push(insn(code, reg(ops[0] as string), 0, 0, Number(swap[2])));
      continue;
    }
    if (mnemonic === 'ja') {
      out.push(insn(0x05, 0, 0, target(ops[0] as string, 'off')));
      continue;
    }
    if (mnemonic === 'ja32') {
      out.push(insn(0x06, 0, 0, 0, target(ops[0] as string, 'imm')));
      continue;
    }
    if (mnemonic === 'call') {
      if (ops.length === 1) ops = ['helper', ...ops];
      if (ops[0] === 'local') out.push(insn(0x85, 0, 1, 0, target(ops[1] as string, 'imm')));
      else if (ops[0] === 'helper' && (ops[1] as string).startsWith('%')) out.push(insn(0x8d, reg(ops[1] as string))); // callx
      else if (ops[0] === 'helper') out.push(insn(0x85, 0, 0, 0, imm32(ops[1] as string)));
      else if (ops[0] === 'runtime') out.push(insn(0x85, 0, 2, 0, imm32(ops[1] as string)));
      else throw new Error(`invalid call mode: ${ops[0]}`);
      continue;
    }
    const jmp = /^(j[a-z]+?)(32)?$/.exec(mnemonic);
    if (jmp && (jmp[1] as string) in JMP_OPS) {
      const cls = jmp[2] ? 0x06 : 0x05;
      const code = cls | ((JMP_OPS[jmp[1] as string] as number) << 4);
      const dst = reg(ops[0] as string);
      const x = (ops[1] as string).startsWith('%');
      const off = target(ops[2] as string, 'off');
      out.push(x ? insn(code | 0x08, dst, reg(ops[1] as string), off) : insn(code, dst, 0, off, imm32(ops[1] as string)));
      continue;
    }
    // ALU: `<op>` (64-bit), `<op>32`, `<op>64`; movsx<width><32|64>
    let op = mnemonic;
    let cls = 0x07;
    if (op.endsWith('32')) {
      cls = 0x04;
      op = op.slice(0, -2);
    } else if (op.endsWith('64')) op = op.slice(0, -2);
    let off = op === 'sdiv' || op === 'smod' ? 1 : 0;
    const movsx = /^movsx(\d+)$/.exec(op);
    if (movsx) {
      off = Number(movsx[1]);
      op = 'movsx';
    }
    const alu = ALU_OPS[op];
    if (alu === undefined) throw new Error(`invalid mnemonic: ${mnemonic}`);
    const code = cls | (alu << 4);
    const dst = reg(ops[0] as string);
    if (ops.length === 1) out.push(insn(code, dst, 0, off));
    else if ((ops[1] as string).startsWith('%')) out.push(insn(code | 0x08, dst, reg(ops[1] as string), off));
    else out.push(insn(code, dst, 0, off, imm32(ops[1] as string)));
  }
  for (const f of fixups) {
    const at = labels.get(f.label);
    if (at === undefined) throw new Error(`invalid label: ${f.label}`);
    const x = out[f.at] as Insn;
    out[f.at] = f.field === 'off' ? { ...x, off: at - f.at - 1 } : { ...x, imm: at - f.at - 1 };
  }
  return out;
}

/** A `.data` file: `# comments`, `-- asm`, `-- raw`, `-- mem`, `-- result`; other sections ignored, as the reference does. */
export function parseConformanceTest(name: string, text: string): ConformanceTest {
  const sections: Record<string, string[]> = {};
  let current = 'ignore';
  for (const raw of text.split('\n')) {
    const line = raw.replace(/\r$/, '').replace(/#.*/, '');
    if (line.includes('--')) {
      const m = /--\s*(asm|result|mem|raw|error)\b/.exec(line);
      current = m ? (m[1] as string) : 'ignore';
      continue;
    }
    if (line.trim() !== '') (sections[current] ??= []).push(line);
  }
  const raw = sections.raw;
  const insns = raw
    ? raw.join(' ').trim().split(/\s+/).map((w) => {
        const v = BigInt.asUintN(64, BigInt(w));
        return {
          code: Number(v & 0xffn),
          dst: Number((v >> 8n) & 0xfn),
          src: Number((v >> 12n) & 0xfn),
          off: Number(BigInt.asIntN(16, (v >> 16n) & 0xffffn)),
          imm: Number(BigInt.asIntN(32, v >> 32n)),
        };
      })
    : assemble(sections.asm ?? []);
  const memWords = (sections.mem ?? []).join(' ').trim().split(/\s+/).filter((w) => w !== '');
  const result = (sections.result ?? ['0'])[0]?.trim() ?? '0';
  return {
    name,
    insns,
    mem: Uint8Array.from(memWords.map((w) => parseInt(w, 16))),
    result: BigInt.asUintN(64, BigInt(result)),
  };
}
