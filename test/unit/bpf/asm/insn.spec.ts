import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { decodeInsns, decodeInsnWords, encodeInsns, insnAt, insnWords, ldImm64Value, slotCode, slotDst, slotImm, slotOff, slotSrc, type Insn } from '../../../../bpf/asm/insn.ts';
import { I } from '../../../../bpf/asm/I.ts';
import { R1 } from '../../../../bpf/asm/register.ts';
import { readElf } from '../../../../bpf/elf/readElf.ts';
import { FIXTURES, fixtureBytes } from '../fixtures.ts';

const slot = fc.record({ code: fc.integer({ min: 0, max: 255 }), dst: fc.integer({ min: 0, max: 15 }), src: fc.integer({ min: 0, max: 15 }), off: fc.integer({ min: -32768, max: 32767 }), imm: fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 }) });

describe('decodeInsns', () => {
  it('should invert encodeInsns for every slot', () => {
    fc.assert(fc.property(fc.array(slot, { maxLength: 20 }), (insns) => {
      expect(decodeInsns(encodeInsns(insns))).toEqual(insns);
    }), { seed: 12 });
  });

  it('should give back the bytes of every code section clang wrote', () => {
    for (const name of FIXTURES) {
      for (const s of readElf(fixtureBytes(name)).sections.filter((x) => (x.flags & 4) !== 0)) {
        expect(encodeInsns(decodeInsns(s.bytes, s.name))).toEqual(s.bytes);
      }
    }
  });

  it('should keep ld_imm64 as two slots whose halves make the 64-bit value', () => {
    const [a, b] = decodeInsns(encodeInsns(I.ldImm64(R1, 0x1234_5678_9abc_def0n)));
    expect(ldImm64Value(a!, b!)).toBe(0x1234_5678_9abc_def0n);
    expect(ldImm64Value(...(I.ldImm64(R1, -1n) as [never, never]))).toBe(2n ** 64n - 1n);
  });

  it('should refuse bytes that are not whole instructions, naming the section', () => {
    expect(() => decodeInsns(new Uint8Array(12), 'tc')).toThrow(expect.objectContaining({ code: 'KPTR_OBJECT_MALFORMED', section: 'tc', offset: 8 }));
  });
});

const slotsOf = (words: Int32Array): Insn[] => Array.from({ length: words.length / 2 }, (_, i) => insnAt(words, i));

describe('decodeInsnWords', () => {
  it('should hold the same slots as decodeInsns and insnWords, read back by insnAt and the slot readers', () => {
    fc.assert(fc.property(fc.array(slot, { maxLength: 20 }), (insns) => {
      const bytes = encodeInsns(insns);
      const words = decodeInsnWords(bytes);
      expect(words).toEqual(insnWords(insns));
      expect(slotsOf(words)).toEqual(insns);
      expect(insns.map((_, i): Insn => ({ code: slotCode(words, i), dst: slotDst(words, i), src: slotSrc(words, i), off: slotOff(words, i), imm: slotImm(words, i) }))).toEqual(insns);
    }), { seed: 12 });
  });

  it('should read every code section clang wrote as decodeInsns does', () => {
    for (const name of FIXTURES) {
      for (const s of readElf(fixtureBytes(name)).sections.filter((x) => (x.flags & 4) !== 0)) {
        expect(slotsOf(decodeInsnWords(s.bytes, s.name))).toEqual(decodeInsns(s.bytes, s.name));
      }
    }
  });

  it('should refuse bytes that are not whole instructions, naming the section', () => {
    expect(() => decodeInsnWords(new Uint8Array(12), 'tc')).toThrow(expect.objectContaining({ code: 'KPTR_OBJECT_MALFORMED', section: 'tc', offset: 8 }));
  });
});
