import { describe, expect, it } from 'vitest';
import { decodeInsns, LD_IMM64 } from '../../../../bpf/asm/insn.ts';
import { readBtfExt, writeBtfExt, type BtfExt } from '../../../../bpf/btf/btfExt.ts';
import type { Btf } from '../../../../bpf/btf/kinds.ts';
import { elfSection } from '../../../../bpf/elf/readElf.ts';
import { FIXTURES, KERNEL, fixtureBtf, fixtureElf, fixtureText } from '../fixtures.ts';

function extOf(name: string): { ext: BtfExt; bytes: Uint8Array; btf: Btf } {
  const btf = fixtureBtf(name);
  const bytes = elfSection(fixtureElf(name), '.BTF.ext')!.bytes;
  return { ext: readBtfExt(bytes, btf), bytes, btf };
}

/** Offsets of every string in a string section (clang stores each once). */
function stringOffsets(strings: Uint8Array): (s: string) => number {
  const offsets = new Map<string, number>();
  for (let at = 0; at < strings.length; ) {
    const end = strings.indexOf(0, at);
    const s = Buffer.from(strings.subarray(at, end)).toString();
    if (!offsets.has(s)) offsets.set(s, at);
    at = end + 1;
  }
  return (s) => offsets.get(s) ?? -1;
}

/** `; <source> @ <file>:<line>` lines of a verifier log, keyed by program and the instruction index that follows. */
function logSourceLines(name: string): Map<string, Map<number, string>> {
  const out = new Map<string, Map<number, string>>();
  let prog = new Map<number, string>();
  let pending: string | null = null;
  for (const line of fixtureText(`${name}.verifier-${KERNEL}.log`).split('\n')) {
    const head = /^== \S+ (\S+) load=/.exec(line);
    if (head) out.set(head[1]!, (prog = new Map()));
    if (line.startsWith('; ')) pending = line.slice(2);
    const at = /^(\d+): /.exec(line);
    if (at && pending !== null) {
      prog.set(Number(at[1]), pending);
      pending = null;
    }
  }
  return out;
}

describe('readBtfExt', () => {
  it.each(FIXTURES)('should give each function of %s a func_info at its symbol, typed by a FUNC of its name', (name) => {
    const elf = fixtureElf(name);
    const { ext, btf } = extOf(name);
    const funcs = elf.symbols.filter((s) => s.type === 'func');
    const infos = ext.funcInfo.flatMap((s) => s.records.map((r) => ({ section: s.section, off: r.insnOff, name: btf.types[r.typeId]!.name, kind: btf.types[r.typeId]!.kind })));
    expect(infos.map((i) => [i.section, i.off, i.name, i.kind]).sort()).toEqual(funcs.map((f) => [f.section, f.value, f.name, 'FUNC']).sort());
  });

  it.each(FIXTURES)(`should read the line_info of %s that the ${KERNEL} verifier prints as source lines`, (name) => {
    const elf = fixtureElf(name);
    const { ext } = extOf(name);
    const logs = logSourceLines(name);
    let checked = 0;
    for (const [prog, lines] of logs) {
      const sym = elf.symbols.find((s) => s.name === prog && s.type === 'func')!;
      const records = ext.lineInfo.find((s) => s.section === sym.section)!.records;
      for (const [insn, printed] of lines) {
        const r = records.find((x) => x.insnOff === sym.value + insn * 8);
        if (!r) continue; // a subprogram's line, numbered after the program in the kernel
        expect(`${r.line.trimStart()} @ ${r.fileName.split('/').at(-1)}:${r.lineNum}`).toBe(printed);
        checked++;
      }
    }
    expect(checked).toBeGreaterThan(0);
  });

  it('should read CO-RE relocations: bpf_core_type_id_local is TYPE_ID_LOCAL at an ld_imm64 that already holds the id', () => {
    const elf = fixtureElf('01_ok_baseline');
    const { ext, btf } = extOf('01_ok_baseline');
    const relos = ext.coreRelo.flatMap((s) => s.records.map((r) => ({ ...r, section: s.section })));
    expect(relos.length).toBeGreaterThan(0);
    for (const r of relos) {
      expect([r.kind, r.accessStr, btf.types[r.typeId]!.name]).toEqual(['TYPE_ID_LOCAL', '0', 'val_t']);
      const insn = decodeInsns(elfSection(elf, r.section)!.bytes)[r.insnOff / 8]!;
      expect([insn.code, insn.imm]).toEqual([LD_IMM64, r.typeId]);
    }
  });

  it.each(FIXTURES)('should write back what it read from %s (bytes too when clang wrote CO-RE relocations)', (name) => {
    const { ext, bytes, btf } = extOf(name);
    const written = writeBtfExt(ext, stringOffsets(btf.strings));
    expect(readBtfExt(written, btf)).toEqual(ext);
    if (ext.coreRelo.length > 0) expect(written).toEqual(bytes);
  });

  it('should refuse records that run past the section, naming the offset', () => {
    const { bytes, btf } = extOf('01_ok_baseline');
    expect(() => readBtfExt(bytes.subarray(0, bytes.length - 4), btf)).toThrow(expect.objectContaining({ code: 'KPTR_OBJECT_MALFORMED', section: '.BTF.ext' }));
    expect(() => readBtfExt(bytes.subarray(0, 8), btf)).toThrow(/^\.BTF\.ext\+0: 8 bytes is too short/);
  });
});
