import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { encodeInsns, insnAt } from '../../../../bpf/asm/insn.ts';
import { BtfWriter } from '../../../../bpf/btf/BtfWriter.ts';
import { writeElf } from '../../../../bpf/elf/writeElf.ts';
import { loadObject } from '../../../../emulator/index.ts';
import { writeObject } from '../../../../compile/object/writeObject.ts';
import { errorOf } from '../../../helpers/errorOf.ts';
import { percpuAllocArray } from '../../compile/codegen/percpuAllocArray.fixture.ts';

/** clang-16 objects checked in by the bpf/ reader tests (test/unit/bpf/fixtures/regen.sh) */
const clangObject = (name: string): Uint8Array => readFileSync(join(import.meta.dirname, '../../bpf/fixtures', `${name}.bpf.o`));

describe('loadObject', () => {
  it("should describe the direct writer's object as libbpf does: maps, .rodata set before load, programs, kfunc externs", () => {
    const o = loadObject(writeObject([percpuAllocArray]), { rodata: { nr_cpus: 3 } });
    expect(o.license).toBe('GPL');
    expect(o.maps.map((m) => [m.name, m.type, m.keySize, m.valueSize, m.maxEntries, m.internal?.kind ?? null])).toEqual([
      ['array', 'array', 4, 16, 1, null],
      ['.rodata', 'array', 4, 4, 1, 'rodata'],
      ['.bss', 'array', 4, 8, 1, 'bss'],
    ]);
    expect(o.maps[0]?.kptrFields).toEqual([{ offset: 8, tag: 'percpu_kptr', pointeeTypeId: expect.any(Number), pointee: 'val_t' }]);
    expect([...(o.maps[1]?.initial ?? [])]).toEqual([3, 0, 0, 0]);
    expect(o.maps[2]?.vars.map((v) => [v.name, v.offset, v.size, v.signed])).toEqual([['cpu0_field_d', 0, 4, true], ['sum_field_c', 4, 4, true]]);
    expect(o.programs.map((p) => [p.name, p.section, p.progType, p.sleepable, p.autoload])).toEqual(
      ['test_array_map_1', 'test_array_map_2', 'test_array_map_3', 'test_array_map_4'].map((n) => [n, '?tc', 'BPF_PROG_TYPE_SCHED_CLS', false, false]),
    );
    expect(o.kfuncs.map((k) => [k.name, k.weak])).toContainEqual(['bpf_percpu_obj_new_impl', true]);
    // relocated as libbpf sends them: map fd, map value + offset, kfunc call
    const p3 = o.programs[2]!;
    for (const r of p3.relocations) {
      const x = insnAt(p3.words, r.insn);
      if (r.kind === 'map') expect([x.code, x.src, x.imm]).toEqual([0x18, 1, 0]);
      if (r.kind === 'map_value') expect([x.code, x.src, o.maps[x.imm]?.name, insnAt(p3.words, r.insn + 1).imm]).toEqual([0x18, 2, r.map === 1 ? '.rodata' : '.bss', r.offset]);
      if (r.kind === 'kfunc') expect([x.code, x.src, o.kfuncs[x.imm]?.name]).toEqual([0x85, 2, expect.stringMatching(/^bpf_iter_num_/)]);
    }
    expect(p3.relocations.map((r) => r.kind)).toEqual(['map', 'map_value', 'map_value', 'kfunc', 'kfunc', 'map_value', 'map_value', 'kfunc']);
  });

  it("should apply clang-16's CO-RE TYPE_ID_LOCAL to bpf_percpu_obj_new's ld_imm64 and take DATASEC offsets from the symbols", () => {
    const base = loadObject(clangObject('01_ok_baseline'));
    const p = base.programs[0]!;
    const core = p.relocations.find((r) => r.kind === 'type_id_local');
    expect(core && base.btf.types[core.kind === 'type_id_local' ? core.typeId : 0]).toMatchObject({ kind: 'STRUCT', name: 'val_t' });
    expect(insnAt(p.words, core!.insn).imm).toBe(core!.kind === 'type_id_local' ? core!.typeId : -1);
    expect(base.kfuncs.map((k) => [k.name, k.weak])).toEqual([['bpf_percpu_obj_new_impl', false], ['bpf_percpu_obj_drop_impl', false]]);

    // clang-16 writes 0 for every DATASEC offset; libbpf's btf_fixup_datasec takes them from the ELF symbols
    const bss = loadObject(clangObject('31_global_bss')).maps.find((m) => m.name === '.bss')!;
    expect(bss.vars.map((v) => [v.name, v.offset, v.size])).toEqual([['gpc', 0, 8], ['val_t_anchor', 8, 24]]);
    expect(bss.kptrFields).toEqual([{ offset: 0, tag: 'percpu_kptr', pointeeTypeId: expect.any(Number), pointee: 'val_t' }]);
  });

  it('should append a called subprogram after the program and point the call at it; syscall programs are sleepable', () => {
    const o = loadObject(clangObject('formats'));
    const p = o.programs.find((x) => x.name === 'isa')!;
    expect([p.section, p.progType, p.sleepable, p.autoload]).toEqual(['syscall', 'BPF_PROG_TYPE_SYSCALL', true, true]);
    expect(p.subprograms).toEqual([{ name: 'sub', insn: expect.any(Number) }]);
    const call = p.relocations.find((r) => r.kind === 'subprog')!;
    expect(call.insn + 1 + insnAt(p.words, call.insn).imm).toBe(p.subprograms[0]!.insn);
    expect(o.maps.find((m) => m.name === '.data')?.kptrFields).toEqual([{ offset: 64, tag: 'kptr', pointeeTypeId: expect.any(Number), pointee: 's_fwd' }]);
  });

  it('should take a variable\'s offset from its own section\'s symbol when another section has one of the same name', () => {
    const w = new BtfWriter();
    const long = w.int('long', 8, true);
    const vars = ['.bss.a', '.bss.b'].map((section) => ({ section, v: w.variable('x', long, 'static') }));
    for (const { section, v } of vars) w.datasec(section, 16, [{ type: v, offset: 0, size: 8 }]);
    const bytes = writeElf(
      [
        { name: '.bss.a', contents: { nobits: 16 }, flags: 'data', align: 8 },
        { name: '.bss.b', contents: { nobits: 16 }, flags: 'data', align: 8 },
        { name: '.BTF', contents: { bytes: w.encode() }, flags: 'none', align: 4 },
      ],
      [
        { name: 'x', section: '.bss.a', value: 8, size: 8, type: 'object', bind: 'local' },
        { name: 'x', section: '.bss.b', value: 0, size: 8, type: 'object', bind: 'local' },
      ],
    );
    const maps = loadObject(bytes).maps;
    expect(maps.map((m) => [m.name, m.vars.map((v) => [v.name, v.offset])])).toEqual([['.bss.a', [['x', 8]]], ['.bss.b', [['x', 0]]]]);
  });

  it('should refuse a malformed object with one error naming the section and offset', () => {
    expect(errorOf(() => loadObject(new Uint8Array(16)))).toMatchObject({ code: 'KPTR_OBJECT_MALFORMED', message: expect.stringMatching(/^ELF header\+\d+: /) });
    const code = encodeInsns([{ code: 0xb7, dst: 0, src: 0, off: 0, imm: 0 }, { code: 0x95, dst: 0, src: 0, off: 0, imm: 0 }]);
    const sym = { name: 'p', section: 'xdp', value: 0, size: 16, type: 'func', bind: 'global' } as const;
    const noBtf = writeElf([{ name: 'xdp', contents: { bytes: code }, flags: 'code', align: 8 }], [sym]);
    expect(errorOf(() => loadObject(noBtf))).toMatchObject({ code: 'KPTR_OBJECT_MALFORMED', message: expect.stringMatching(/^\.BTF\+0: the object has no \.BTF section/) });
    const withBtf = writeElf([
      { name: 'xdp', contents: { bytes: code }, flags: 'code', align: 8 },
      { name: '.BTF', contents: { bytes: new BtfWriter().encode() }, flags: 'none', align: 4 },
    ], [sym]);
    expect(errorOf(() => loadObject(withBtf))).toMatchObject({ message: "xdp+0: program p: libbpf knows no program type for section name 'xdp'" });
  });
});
