import { describe, expect, it } from 'vitest';
import { assemble } from '../../../../bpf/asm/assemble.ts';
import { formatInsns } from '../../../../bpf/asm/formatInsn.ts';
import { I } from '../../../../bpf/asm/I.ts';
import { encodeInsns } from '../../../../bpf/asm/insn.ts';
import { ISA_V4 } from '../fixtures/isaV4.ts';

// bpf_conformance's syntax (src/bpf_assembler.cc), checked through formatInsn, whose output is the kernel's.
describe('assemble', () => {
  it('should assemble every instruction class as the kernel then prints it', () => {
    const program = `
      # comment lines and trailing comments are skipped
      mov %r0, 0
      mov32 %r1, -1          # w1 = -1
      add %r2, %r1
      sub32 %r2, 0x10
      lsh %r3, 32
      arsh32 %r3, %r1
      neg %r4
      neg32 %r4
      lddw %r5, 0x123456789
      lddw %r5, -1
      ldxw %r6, [%r10-4]
      ldxdw %r6, [%r1]
      stxb [%r10-8], %r1
      sth [%r10+2], 7
      stdw [%r10-16], 0xCCBBAA99
      jeq %r0, 0, +1
      jsgt32 %r1, %r2, -2
      jset %r1, 0x1, exit
      call 1
      call helper %r1
      call runtime 7
      be16 %r1
      le64 %r1
      exit`;
    expect(formatInsns(assemble(program))).toEqual([
      '0: (b7) r0 = 0', '1: (b4) w1 = -1', '2: (0f) r2 += r1', '3: (14) w2 -= 16', '4: (67) r3 <<= 32',
      '5: (cc) w3 s>>= w1', '6: (87) r4 = -r4', '7: (84) w4 = -w4', '8: (18) r5 = 0x123456789', '10: (18) r5 = 0xffffffffffffffff',
      '12: (61) r6 = *(u32 *)(r10 -4)', '13: (79) r6 = *(u64 *)(r1 +0)', '14: (73) *(u8 *)(r10 -8) = r1', '15: (6a) *(u16 *)(r10 +2) = 7',
      '16: (7a) *(u64 *)(r10 -16) = -860116327', '17: (15) if r0 == 0x0 goto pc+1', '18: (6e) if w1 s> w2 goto pc-2',
      '19: (45) if r1 & 0x1 goto pc+5', '20: (85) call bpf_map_lookup_elem#1', '21: (8d) call bpf_unspec#0', '22: (85) call kernel-function#7',
      '23: (dc) r1 = be16 r1', '24: (d4) r1 = le64 r1', '25: (95) exit',
    ]);
  });

  it('should assemble the v4 forms into the bytes the kernel verified (test/unit/bpf/fixtures/isaV4.ts)', () => {
    const v4 = assemble(`
      mov %r1, -1
      movsx864 %r2, %r1
      movsx1664 %r3, %r1
      movsx3264 %r4, %r1
      movsx832 %r5, %r1
      movsx1632 %r5, %r1
      mov %r6, 7
      sdiv %r6, 2
      smod %r6, 3
      sdiv32 %r6, %r2
      smod32 %r6, %r2
      mov %r7, 0x1234
      swap16 %r7
      swap32 %r7
      swap64 %r7
      le16 %r7
      be32 %r7
      neg32 %r7
      stxdw [%r10-8], %r1`);
    expect(v4).toEqual(ISA_V4.slice(0, 19));
    expect(assemble('ldxsb %r8, [%r10-8]\nldxsh %r8, [%r10-8]\nldxsw %r8, [%r10-8]\nja32 +0\nstw [%r10-16], 5')).toEqual(ISA_V4.slice(19, 24));
    expect(assemble('bswap16 %r7')).toEqual(assemble('swap16 %r7'));
    expect(assemble('lock add32 [%r10-16], %r1\nlock fetch xor32 [%r10-16], %r1\nlock fetch and32 [%r10-16], %r1\nlock xchg32 [%r10-16], %r1')).toEqual(ISA_V4.slice(25, 29));
    expect(assemble('lock cmpxchg32 [%r10-16], %r1')).toEqual([ISA_V4[30]]);
  });

  it('should give the bytes of bpf_conformance lddw.data\'s `-- raw` section (u64 words, little-endian)', () => {
    const words = Array.from(new BigUint64Array(encodeInsns(assemble('lddw %r0, 0x1122334455667788\nexit')).buffer));
    expect(words).toEqual([0x5566778800000018n, 0x1122334400000000n, 0x0000000000000095n]);
  });

  it('should resolve labels for jumps, ja32 and local calls, with exit as the first exit', () => {
    const insns = assemble(`
      call local func
      jne %r0, 15, failed
      ja exit
      failed:
      mov %r0, -1
      exit
      func:
      ja32 exit
      exit`);
    expect(insns.map((x) => [x.off, x.imm])).toEqual([[0, 4], [1, 15], [1, 0], [0, -1], [0, 0], [0, -2], [0, 0]]);
    expect(insns[0]).toEqual({ ...I.callExtern(), imm: 4 });
  });

  it('should refuse what it cannot assemble, naming the line', () => {
    expect(() => assemble('mov %r0, 1\nfrob %r1')).toThrow(/^line 2: unknown mnemonic frob/);
    expect(() => assemble('mov %r16, 1')).toThrow(/line 1: bad register %r16/);
    expect(() => assemble('jeq %r0, 1, nowhere')).toThrow(/line 1: unknown label nowhere/);
    expect(() => assemble('add %r0')).toThrow(/add takes 2 operands/);
    expect(() => assemble('x:\nx:')).toThrow(/duplicate label x/);
  });
});
