import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { decodeInsns } from '../../../bpf/asm/insn.ts';
import { readBtfExt } from '../../../bpf/btf/btfExt.ts';
import { readBtf } from '../../../bpf/btf/readBtf.ts';
import { elfSection, readElf } from '../../../bpf/elf/readElf.ts';
import { ObjectFormatError } from '../../../bpf/ObjectFormatError.ts';
import { FIXTURES, fixtureBytes } from './fixtures.ts';

/** Everything a loader reads from an object: ELF, BTF, .BTF.ext, the code of every executable section. */
function readAll(bytes: Uint8Array): void {
  const elf = readElf(bytes);
  const btfSection = elfSection(elf, '.BTF');
  const btf = btfSection ? readBtf(btfSection.bytes) : null;
  const ext = elfSection(elf, '.BTF.ext');
  if (btf && ext) readBtfExt(ext.bytes, btf);
  for (const s of elf.sections) if (s.flags & 4) decodeInsns(s.bytes, s.name);
}

/** Where a reader looks: the ELF header, the section headers, and the sections it decodes (not DWARF). */
function regions(bytes: Uint8Array): [number, number][] {
  const elf = readElf(bytes);
  const shoff = Number(new DataView(bytes.buffer, bytes.byteOffset).getBigUint64(40, true));
  const decoded = elf.sections.filter((s) => s.type === 2 || s.type === 9 || s.name.startsWith('.BTF') || s.name === '.strtab' || (s.flags & 4) !== 0);
  return [[0, 64], [shoff, bytes.length], ...decoded.filter((s) => s.size > 0 && s.type !== 8).map((s): [number, number] => [s.offset, s.offset + s.size])];
}

const corruption = fc.record({
  object: fc.constantFrom(...FIXTURES),
  writes: fc.array(fc.record({ region: fc.nat(), at: fc.nat(), value: fc.integer({ min: 0, max: 255 }) }), { minLength: 1, maxLength: 4 }),
  truncate: fc.option(fc.nat(), { nil: null, freq: 4 }),
});

describe('the readers on malformed objects', () => {
  it('should either read a corrupted object or throw one ObjectFormatError naming a section and offset, nothing else', () => {
    const originals = new Map(FIXTURES.map((f) => [f, fixtureBytes(f)]));
    const targets = new Map(FIXTURES.map((f) => [f, regions(originals.get(f)!)]));
    fc.assert(
      fc.property(corruption, ({ object, writes, truncate }) => {
        const original = originals.get(object)!;
        let bytes = original.slice();
        for (const w of writes) {
          const [start, end] = targets.get(object)![w.region % targets.get(object)!.length]!;
          bytes[start + (w.at % (end - start))] = w.value;
        }
        if (truncate !== null) bytes = bytes.subarray(0, truncate % bytes.length);
        try {
          readAll(bytes);
        } catch (e) {
          expect(e).toBeInstanceOf(ObjectFormatError);
          const err = e as ObjectFormatError;
          expect(err.code).toBe('KPTR_OBJECT_MALFORMED');
          expect(err.message).toMatch(/^[^\n]+\+\d+: [^\n]+$/);
        }
      }),
      { seed: 42, numRuns: 2000 },
    );
  });
});
