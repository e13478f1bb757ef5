import { describe, expect, it } from 'vitest';
import { I } from '../../../../bpf/asm/I.ts';
import { encodeInsns } from '../../../../bpf/asm/insn.ts';
import { R0, R1, R2, R3, R10 } from '../../../../bpf/asm/register.ts';

const hex = (insns: Parameters<typeof encodeInsns>[0]): string => Buffer.from(encodeInsns(insns)).toString('hex');

// Expected bytes are clang-16's (-O2 -target bpf -mcpu=v3), read with llvm-objdump -d from an object of emitBatch's C.
describe('I', () => {
  it('should encode moves, stack stores and pointer arithmetic as clang does', () => {
    expect(hex([I.mov32Imm(R1, 0)])).toBe('b401000000000000');
    expect(hex([I.stx(4, R10, -4, R1)])).toBe('631afcff00000000');
    expect(hex([I.add64Imm(R3, -0x18)])).toBe('07030000e8ffffff');
    expect(hex([I.mov64Imm(R2, 0)])).toBe('b702000000000000');
    expect(hex([I.mov64Reg(R1, R10)])).toBe('bfa1000000000000');
    expect(hex([I.add64Reg(R2, R1)])).toBe('0f12000000000000');
  });

  it('should encode ld_imm64 as two slots with the upper half in the second', () => {
    expect(hex(I.ldImm64(R1, 0x12en))).toBe('180100002e0100000000000000000000');
    expect(hex(I.ldImm64(R2, -1n))).toBe('18020000ffffffff00000000ffffffff');
  });

  it('should encode helper calls, extern (kfunc) calls and exits', () => {
    expect(hex([I.call(0xc2)])).toBe('85000000c2000000');
    expect(hex([I.callExtern()])).toBe('85100000ffffffff');
    expect(hex([I.mov32Imm(R0, 0), I.exit()])).toBe('b4000000000000009500000000000000');
  });

  it('should encode loads, sign extension and the loop jumps of bpf_for', () => {
    expect(hex([I.ldx(4, R2, R0, 0)])).toBe('6102000000000000');
    expect(hex([I.ldx(1, R1, R0, 0xec)])).toBe('7101ec0000000000');
    expect(hex([I.lsh64Imm(R1, 56), I.arsh64Imm(R1, 56)])).toBe('6701000038000000c701000038000000');
    expect(hex([I.jslt32Imm(R2, 0, 2)])).toBe('c602020000000000');
    expect(hex([I.jeqImm(R0, 0, -0x12)])).toBe('1500eeff00000000');
    expect(hex([I.ja(0xa)])).toBe('05000a0000000000');
  });

  it('should put dst in the low and src in the high nibble of the register byte', () => {
    expect(hex([I.jge32Reg(R2, R1, 7)])).toBe('3e12070000000000');
    expect(hex([I.stx(8, 6, 8, R2)])).toBe('7b26080000000000');
  });

  it('should refuse an access size BPF has not', () => {
    expect(() => I.ldx(3, R1, R2, 0)).toThrow(/no BPF access size of 3 bytes/);
  });
});
