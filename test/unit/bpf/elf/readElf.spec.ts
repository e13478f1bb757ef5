import { describe, expect, it } from 'vitest';
import { readElf, relocationEntries } from '../../../../bpf/elf/readElf.ts';
import { writeElf } from '../../../../bpf/elf/writeElf.ts';
import { FIXTURES, fixtureBytes, fixtureJson, fixtureText } from '../fixtures.ts';

interface ReadobjSection {
  Section: { Index: number; Name: { Value: string }; Type: { RawValue: number }; Flags: { RawFlags: number }; Offset: number; Size: number; Link: number; Info: number; AddressAlignment: number; EntrySize: number };
}
interface ReadobjSymbol {
  Symbol: { Name: { Value: string }; Value: number; Size: number; Binding: { RawValue: number }; Type: { RawValue: number }; Other: number; Section: { RawValue: number } };
}

const STT = { notype: 0, object: 1, func: 2, section: 3, file: 4 };
const STB = { local: 0, global: 1, weak: 2 };
const STV = { default: 0, internal: 1, hidden: 2, protected: 3 };

/** `llvm-readelf -r`: each REL section's name and rows [offset, type, symbol name]. */
function readelfRelocations(text: string): { name: string; rows: [number, string, string][] }[] {
  const out: { name: string; rows: [number, string, string][] }[] = [];
  for (const line of text.split('\n')) {
    const head = /^Relocation section '(.+)' at offset/.exec(line);
    if (head) out.push({ name: head[1]!, rows: [] });
    const row = /^([0-9a-f]{16})\s+[0-9a-f]{16}\s+(\S+)\s+[0-9a-f]{16}\s+(\S*)/.exec(line);
    if (row) out.at(-1)!.rows.push([parseInt(row[1]!, 16), row[2]!, row[3] ?? '']);
  }
  return out;
}

describe('readElf', () => {
  it.each(FIXTURES)('should read the section headers and symbols of %s as llvm-readobj does', (name) => {
    const elf = readElf(fixtureBytes(name));
    const [ref] = fixtureJson(`${name}.readobj.json`) as [{ Sections: ReadobjSection[]; Symbols: ReadobjSymbol[] }];
    expect(elf.sections.map((s) => [s.index, s.name, s.type, s.flags, s.offset, s.size, s.link, s.info, s.align, s.entsize])).toEqual(
      ref.Sections.map(({ Section: s }) => [s.Index, s.Name.Value, s.Type.RawValue, s.Flags.RawFlags, s.Offset, s.Size, s.Link, s.Info, s.AddressAlignment, s.EntrySize]),
    );
    // llvm-readobj names section symbols (st_name 0) after their section
    expect(elf.symbols.map((s) => [s.type === 'section' ? s.section : s.name, s.value, s.size, STB[s.bind], STT[s.type], STV[s.visibility], s.sectionIndex])).toEqual(
      ref.Symbols.map(({ Symbol: s }) => [s.Name.Value, s.Value, s.Size, s.Binding.RawValue, s.Type.RawValue, s.Other & 3, s.Section.RawValue]),
    );
  });

  it.each(FIXTURES)('should read the relocations of %s as llvm-readelf does', (name) => {
    const elf = readElf(fixtureBytes(name));
    const symbolName = (i: number): string => {
      const s = elf.symbols[i]!;
      return s.type === 'section' ? s.section! : s.name;
    };
    expect(elf.relocations.map((r) => ({ name: r.name, rows: relocationEntries(r).map((e) => [e.offset, e.type, symbolName(e.symbol)]) }))).toEqual(readelfRelocations(fixtureText(`${name}.relocs.txt`)));
  });

  it('should read names that are not ASCII as UTF-8 beside ASCII ones', () => {
    const bytes = writeElf(
      [{ name: '.bss', contents: { nobits: 16 }, flags: 'data', align: 8 }],
      [{ name: 'g', section: '.bss', value: 0, size: 8, type: 'object', bind: 'global' }, { name: 'größe', section: '.bss', value: 8, size: 8, type: 'object', bind: 'global' }],
    );
    expect(readElf(bytes).symbols.map((s) => s.name)).toEqual(['', 'g', 'größe']);
  });

  it('should read back what writeElf writes: sections, symbols (locals first), relocations', () => {
    const code = new Uint8Array(32).fill(7);
    const bytes = writeElf(
      [
        { name: 'tc', contents: { bytes: code }, flags: 'code', align: 8, relocations: [{ offset: 8, type: 'R_BPF_64_64', target: { symbol: 'g' } }, { offset: 24, type: 'R_BPF_64_32', target: { symbol: 'ext' } }] },
        { name: '.bss', contents: { nobits: 16 }, flags: 'data', align: 8 },
        { name: '.data.x', contents: { bytes: new Uint8Array(8) }, flags: 'data', align: 8, relocations: [] },
      ],
      [
        { name: 'prog', section: 'tc', value: 0, size: 32, type: 'func', bind: 'global' },
        { name: 'g', section: '.bss', value: 8, size: 8, type: 'object', bind: 'global' },
        { name: 'x', section: '.data.x', value: 0, size: 8, type: 'object', bind: 'local' },
        { name: 'ext', section: null, value: 0, size: 0, type: 'notype', bind: 'weak' },
      ],
    );
    const elf = readElf(bytes);
    expect(elf.sections.map((s) => s.name)).toEqual(['', '.strtab', 'tc', '.reltc', '.bss', '.data.x', '.symtab']);
    expect(elf.sections[2]!.bytes).toEqual(code);
    expect(elf.sections[4]!.bytes.length).toBe(0);
    expect(elf.sections[4]!.size).toBe(16);
    expect(elf.symbols.map((s) => [s.name, s.section, s.value, s.size, s.type, s.bind])).toEqual([
      ['', null, 0, 0, 'notype', 'local'],
      ['x', '.data.x', 0, 8, 'object', 'local'],
      ['prog', 'tc', 0, 32, 'func', 'global'],
      ['g', '.bss', 8, 8, 'object', 'global'],
      ['ext', null, 0, 0, 'notype', 'weak'],
    ]);
    expect(elf.firstGlobal).toBe(2);
    expect(elf.relocations.map((r) => ({ name: r.name, target: r.target, targetIndex: r.targetIndex, entries: relocationEntries(r) }))).toEqual([{ name: '.reltc', target: 'tc', targetIndex: 2, entries: [{ offset: 8, type: 'R_BPF_64_64', symbol: 3 }, { offset: 24, type: 'R_BPF_64_32', symbol: 4 }] }]);
  });

  it('should refuse a malformed object with one error naming the section and offset', () => {
    const good = fixtureBytes('31_global_bss');
    expect(() => readElf(good.subarray(0, 20))).toThrow(/^ELF header\+0: 20 bytes is too short/);
    const notBpf = good.slice();
    notBpf[18] = 62; // EM_X86_64
    expect(() => readElf(notBpf)).toThrow(expect.objectContaining({ code: 'KPTR_OBJECT_MALFORMED', section: 'ELF header', offset: 18 }));
    // point the first relocation of .reltc at a symbol past the table
    const elf = readElf(good);
    const rel = elf.sections.find((s) => s.name === '.reltc')!;
    const bad = good.slice();
    new DataView(bad.buffer).setUint32(rel.offset + 12, 999, true);
    expect(() => readElf(bad)).toThrow(/^\.reltc\+8: relocation 0: symbol 999 is not in the symbol table/);
  });
});
