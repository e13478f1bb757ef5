import { describe, expect, it } from 'vitest';
import {
  BPF_ALU, BPF_ALU64, BPF_ATOMIC, BPF_B, BPF_CALL, BPF_CLASS, BPF_DW, BPF_END, BPF_H, BPF_JA, BPF_JMP, BPF_JMP32, BPF_JSLT,
  BPF_K, BPF_LD, BPF_LDX, BPF_MEM, BPF_MEMSX, BPF_MODE, BPF_MOV, BPF_OP, BPF_SIZE, BPF_SRC, BPF_STX, BPF_TO_BE, BPF_W, BPF_X,
  BPF_IMM, opcodeName, sizeBytes, sizeOf,
} from '../../../../bpf/asm/opcode.ts';

// The opcodes clang-16 emits for the suite's programs (emulator-design.md §3.2), by the bytes llvm-objdump shows.
describe('opcode', () => {
  it('should build the opcode bytes clang emits from their named parts', () => {
    expect(BPF_ALU64 | BPF_MOV | BPF_K).toBe(0xb7);
    expect(BPF_ALU | BPF_MOV | BPF_K).toBe(0xb4);
    expect(BPF_LD | BPF_IMM | BPF_DW).toBe(0x18);
    expect(BPF_LDX | BPF_MEM | BPF_W).toBe(0x61);
    expect(BPF_STX | BPF_MEM | BPF_DW).toBe(0x7b);
    expect(BPF_STX | BPF_ATOMIC | BPF_DW).toBe(0xdb);
    expect(BPF_LDX | BPF_MEMSX | BPF_B).toBe(0x91);
    expect(BPF_JMP | BPF_CALL).toBe(0x85);
    expect(BPF_JMP32 | BPF_JSLT | BPF_K).toBe(0xc6);
    expect(BPF_JMP32 | BPF_JA).toBe(0x06);
    expect(BPF_ALU | BPF_END | BPF_TO_BE).toBe(0xdc);
  });

  it('should take an opcode apart again', () => {
    const code = BPF_STX | BPF_MEM | BPF_H;
    expect([BPF_CLASS(code), BPF_MODE(code), BPF_SIZE(code)]).toEqual([BPF_STX, BPF_MEM, BPF_H]);
    const alu = BPF_ALU64 | BPF_MOV | BPF_X;
    expect([BPF_CLASS(alu), BPF_OP(alu), BPF_SRC(alu)]).toEqual([BPF_ALU64, BPF_MOV, BPF_X]);
  });

  it('should spell an opcode with the kernel names of its parts', () => {
    expect(opcodeName(0xb7)).toBe('BPF_ALU64 | BPF_MOV | BPF_K');
    expect(opcodeName(0x61)).toBe('BPF_LDX | BPF_MEM | BPF_W');
    expect(opcodeName(0x81)).toBe('BPF_LDX | BPF_MEMSX | BPF_W');
    expect(opcodeName(0x3e)).toBe('BPF_JMP32 | BPF_JGE | BPF_X');
    expect(opcodeName(0xdc)).toBe('BPF_ALU | BPF_END | BPF_TO_BE');
    expect(opcodeName(0xc3)).toBe('BPF_STX | BPF_ATOMIC | BPF_W');
  });

  it('should convert between access sizes and bytes', () => {
    expect([BPF_B, BPF_H, BPF_W, BPF_DW].map((s) => sizeBytes(BPF_LDX | BPF_MEM | s))).toEqual([1, 2, 4, 8]);
    expect([1, 2, 4, 8].map(sizeOf)).toEqual([BPF_B, BPF_H, BPF_W, BPF_DW]);
    expect(() => sizeOf(16)).toThrow(RangeError);
  });
});
