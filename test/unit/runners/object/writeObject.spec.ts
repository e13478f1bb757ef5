import { describe, expect, it } from 'vitest';
import { writeObject } from '../../../../runners/object/writeObject.ts';
import { percpuAllocArray } from '../../../kernel/scenarios.ts';

/** Just enough of an ELF64 reader to check what libbpf relies on: section names, symbols, relocations. */
function readElf(bytes: Uint8Array) {
  const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const shoff = Number(v.getBigUint64(40, true));
  const shnum = v.getUint16(60, true);
  const shstrndx = v.getUint16(62, true);
  const sh = Array.from({ length: shnum }, (_, i) => {
    const at = shoff + i * 64;
    return { name: v.getUint32(at, true), type: v.getUint32(at + 4, true), offset: Number(v.getBigUint64(at + 24, true)), size: Number(v.getBigUint64(at + 32, true)), link: v.getUint32(at + 40, true), info: v.getUint32(at + 44, true) };
  });
  const str = (table: number, off: number): string => {
    const start = sh[table]!.offset + off;
    return Buffer.from(bytes.subarray(start, bytes.indexOf(0, start))).toString();
  };
  const sections = sh.map((s) => ({ ...s, label: str(shstrndx, s.name) }));
  const symtab = sections.find((s) => s.type === 2)!;
  const symbols = Array.from({ length: symtab.size / 24 }, (_, i) => {
    const at = symtab.offset + i * 24;
    const info = v.getUint8(at + 4);
    const shndx = v.getUint16(at + 6, true);
    return { name: str(symtab.link, v.getUint32(at, true)), bind: info >> 4, type: info & 0xf, section: sections[shndx]?.label ?? '', value: Number(v.getBigUint64(at + 8, true)) };
  });
  const relocations = sections.filter((s) => s.type === 9).flatMap((s) => Array.from({ length: s.size / 16 }, (_, i) => {
    const info = v.getBigUint64(s.offset + i * 16 + 8, true);
    return { in: sections[s.info]!.label, offset: Number(v.getBigUint64(s.offset + i * 16, true)), symbol: symbols[Number(info >> 32n)]!, type: Number(info & 0xffffffffn) };
  }));
  return { machine: v.getUint16(18, true), sections, symbols, relocations, firstGlobal: symtab.info };
}

describe('writeObject', () => {
  const scenario = percpuAllocArray('wo');
  const elf = readElf(writeObject([scenario]));

  it('should be an EM_BPF relocatable object with the sections clang gives the same C', () => {
    expect(elf.machine).toBe(247);
    expect(elf.sections.map((s) => s.label)).toEqual(['', '.strtab', '?tc', '.rel?tc', 'license', '.maps', '.rodata', '.bss', '.BTF', '.BTF.ext', '.symtab']);
  });

  it('should give each program a global function symbol in its section, and list locals before globals', () => {
    const funcs = elf.symbols.filter((s) => s.type === 2);
    expect(funcs.map((f) => [f.name, f.section, f.bind])).toEqual(scenario.programs.map((p) => [p.name, '?tc', 1]));
    expect(elf.symbols.slice(0, elf.firstGlobal).every((s) => s.bind === 0)).toBe(true);
    expect(elf.symbols.slice(elf.firstGlobal).every((s) => s.bind !== 0)).toBe(true);
  });

  it('should declare the kfuncs the scenario calls as weak undefined externs, called through R_BPF_64_32', () => {
    const externs = elf.symbols.filter((s) => s.bind === 2).map((s) => [s.name, s.section]);
    expect(externs).toEqual([['bpf_iter_num_destroy', ''], ['bpf_iter_num_new', ''], ['bpf_iter_num_next', ''], ['bpf_percpu_obj_drop_impl', ''], ['bpf_percpu_obj_new_impl', '']]);
    const calls = elf.relocations.filter((r) => r.type === 10);
    expect(new Set(calls.map((r) => r.symbol.name))).toEqual(new Set(externs.map(([n]) => n)));
  });

  it('should relocate map, global and nr_cpus addresses with R_BPF_64_64 against their symbols', () => {
    const targets = new Set(elf.relocations.filter((r) => r.type === 1).map((r) => `${r.symbol.name}@${r.symbol.section}`));
    expect(targets).toEqual(new Set(['wo_array@.maps', 'wo_cpu0_field_d@.bss', 'wo_sum_field_c@.bss', 'nr_cpus@.rodata']));
    // every relocation sits on an instruction boundary of its section
    expect(elf.relocations.every((r) => r.offset % 8 === 0 && r.in === '?tc')).toBe(true);
  });

  it('should refuse scenarios that cannot share an object, as the C codegen does', () => {
    expect(() => writeObject([percpuAllocArray('same'), percpuAllocArray('same')])).toThrow(/also defined by scenario same/);
  });
});
