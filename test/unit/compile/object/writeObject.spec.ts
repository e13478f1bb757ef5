import { describe, expect, it } from 'vitest';
import { readBtfExt } from '../../../../bpf/btf/btfExt.ts';
import { readBtf } from '../../../../bpf/btf/readBtf.ts';
import { cTypeName } from '../../../../bpf/btf/typeName.ts';
import { walkMembers } from '../../../../bpf/btf/walkMembers.ts';
import type { BtfTypeOf } from '../../../../bpf/btf/kinds.ts';
import { elfSection, readElf, relocationEntries } from '../../../../bpf/elf/readElf.ts';
import { writeObject } from '../../../../compile/object/writeObject.ts';
import { percpuAllocArray } from '../../../kernel/scenarios.ts';
import { fileURLToPath } from 'node:url';
import { loadObject } from '../../../../emulator/loader/loadObject.ts';
import { emitBatch } from '../../../../compile/codegen/emit.ts';
import { loadScenarioFile } from '../../../../specs/load.ts';
import { decodeInsns, formatInsn } from '../../../../bpf/asm/index.ts';
import { storageCounter } from '../../../helpers/localStorageScenarios.ts';

describe('writeObject', () => {
  const scenario = percpuAllocArray('wo');
  const elf = readElf(writeObject([scenario]));
  const symbol = (i: number) => elf.symbols[i]!;

  it('should be a relocatable object (readElf checks EM_BPF, ET_REL) with the sections clang gives the same C', () => {
    expect(elf.sections.map((s) => s.name)).toEqual(['', '.strtab', '?tc', '.rel?tc', 'license', '.maps', '.rodata', '.bss', '.BTF', '.BTF.ext', '.symtab']);
  });

  it('should give each program a global function symbol in its section, and list locals before globals', () => {
    const funcs = elf.symbols.filter((s) => s.type === 'func');
    expect(funcs.map((f) => [f.name, f.section, f.bind])).toEqual(scenario.programs.map((p) => [p.name, '?tc', 'global']));
    expect(elf.symbols.slice(0, elf.firstGlobal).every((s) => s.bind === 'local')).toBe(true);
    expect(elf.symbols.slice(elf.firstGlobal).every((s) => s.bind !== 'local')).toBe(true);
  });

  it('should declare the kfuncs the scenario calls as weak undefined externs, called through R_BPF_64_32', () => {
    const externs = elf.symbols.filter((s) => s.bind === 'weak').map((s) => [s.name, s.section]);
    expect(externs).toEqual([['bpf_iter_num_destroy', null], ['bpf_iter_num_new', null], ['bpf_iter_num_next', null], ['bpf_percpu_obj_drop_impl', null], ['bpf_percpu_obj_new_impl', null]]);
    const calls = elf.relocations.flatMap((r) => relocationEntries(r)).filter((r) => r.type === 'R_BPF_64_32');
    expect(new Set(calls.map((r) => symbol(r.symbol).name))).toEqual(new Set(externs.map(([n]) => n)));
  });

  it('should relocate map, global and nr_cpus addresses with R_BPF_64_64 against their symbols', () => {
    const targets = new Set(elf.relocations.flatMap((r) => relocationEntries(r)).filter((r) => r.type === 'R_BPF_64_64').map((r) => `${symbol(r.symbol).name}@${symbol(r.symbol).section}`));
    expect(targets).toEqual(new Set(['wo_array@.maps', 'wo_cpu0_field_d@.bss', 'wo_sum_field_c@.bss', 'nr_cpus@.rodata']));
    // every relocation sits on an instruction boundary of its section
    expect(elf.relocations.every((r) => r.target === '?tc' && relocationEntries(r).every((e) => e.offset % 8 === 0))).toBe(true);
  });

  it('should write BTF and .BTF.ext the readers accept: a func_info per program, the map value with its percpu_kptr field', () => {
    const btf = readBtf(elfSection(elf, '.BTF')!.bytes);
    const ext = readBtfExt(elfSection(elf, '.BTF.ext')!.bytes, btf);
    const funcs = ext.funcInfo.flatMap((s) => s.records.map((r) => [s.section, r.insnOff, btf.types[r.typeId]!.name]));
    expect(funcs).toEqual(elf.symbols.filter((s) => s.type === 'func').map((s) => [s.section, s.value, s.name]));
    expect([ext.lineInfo, ext.coreRelo]).toEqual([[], []]);
    const maps = btf.types.find((t): t is BtfTypeOf<'DATASEC'> => t.kind === 'DATASEC' && t.name === '.maps')!;
    const def = btf.types[(btf.types[maps.vars[0]!.type] as BtfTypeOf<'VAR'>).type] as BtfTypeOf<'STRUCT'>;
    const value = (btf.types[def.members.find((m) => m.name === 'value')!.type] as BtfTypeOf<'PTR'>).type;
    expect(walkMembers(btf, value).map((m) => `${cTypeName(btf, m.type)} ${m.path} @${m.bitOffset}`)).toEqual([
      'long sum @0',
      'struct wo_val_t __attribute__((btf_type_tag("percpu_kptr"))) * pc @64',
    ]);
  });

  it('should refuse scenarios that cannot share an object, as the C codegen does', () => {
    expect(() => writeObject([percpuAllocArray('same'), percpuAllocArray('same')])).toThrow(/also defined by scenario same/);
  });
});

describe('a slot value with a spin lock (KptrHome.spinLock)', () => {
  const hlu = loadScenarioFile(fileURLToPath(new URL('../../../../specs/regressions/htab_lock_update_keeps_percpu_kptr.yaml', import.meta.url)));
  const bytes = writeObject([hlu]);

  it('should put struct bpf_spin_lock after the kptr field in the C and in the object\'s BTF, 24 bytes in all', () => {
    expect(emitBatch([hlu]).source).toContain('struct hlu_h_elem {\n\tlong sum;\n\tstruct hlu_t __percpu_kptr *pc;\n\tstruct bpf_spin_lock lock;\n};');
    expect(emitBatch([hlu]).source).toContain('struct hlu_p_elem {\n\tlong sum;\n\tstruct hlu_t __percpu_kptr *pc;\n};');
    const btf = readBtf(elfSection(readElf(bytes), '.BTF')!.bytes);
    const elem = (name: string) => btf.types.findIndex((t) => t.kind === 'STRUCT' && t.name === name);
    expect(walkMembers(btf, elem('hlu_h_elem')).map((m) => `${cTypeName(btf, m.type)} ${m.path} @${m.bitOffset}`)).toEqual([
      'long sum @0',
      'struct hlu_t __attribute__((btf_type_tag("percpu_kptr"))) * pc @64',
      'struct bpf_spin_lock lock @128',
      '__u32 lock.val @128',
    ]);
    expect((btf.types[elem('hlu_h_elem')] as BtfTypeOf<'STRUCT'>).size).toBe(24);
    expect(btf.types.filter((t) => t.kind === 'STRUCT' && t.name === 'bpf_spin_lock')).toHaveLength(1);
  });

  it('should be read back by the emulator\'s loader with the lock\'s offset, and none for a value without one', () => {
    const maps = loadObject(bytes, { rodata: {} }).maps.filter((m) => m.internal === null);
    expect(maps.map((m) => [m.name, m.valueSize, m.spinLockOffset, m.kptrFields.map((f) => f.offset)])).toEqual([
      ['hlu_h', 24, 16, [8]], ['hlu_a', 24, 16, [8]], ['hlu_p', 16, null, [8]]]);
  });
});


describe('a cgroup storage slot (home cgrp_storage)', () => {
  const s = storageCounter('wcg', 'cgrp_storage', 'tc');
  const elf = readElf(writeObject([s]));
  const btf = readBtf(elfSection(elf, '.BTF')!.bytes);
  const insns = decodeInsns(elfSection(elf, '?tc')!.bytes);
  /** instruction i (no ld_imm64 among those asked for) as the verifier log prints it */
  const text = (i: number) => formatInsn(insns[i]!, null);

  it('should be a BPF_MAP_TYPE_CGRP_STORAGE map with BPF_F_NO_PREALLOC, as emitSlots declares it', () => {
    const maps = btf.types.find((t): t is BtfTypeOf<'DATASEC'> => t.kind === 'DATASEC' && t.name === '.maps')!;
    const def = btf.types[(btf.types[maps.vars[0]!.type] as BtfTypeOf<'VAR'>).type] as BtfTypeOf<'STRUCT'>;
    const uint = (name: string) => ((btf.types[(btf.types[def.members.find((m) => m.name === name)!.type] as BtfTypeOf<'PTR'>).type]) as BtfTypeOf<'ARRAY'>).nelems;
    expect([uint('type'), uint('map_flags')]).toEqual([32, 1]);
  });

  it('should pass bpf_cgrp_storage_get the task\'s cgroups->dfl_cgrp, each load a CO-RE field relocation as clang writes it', () => {
    const call = insns.findIndex((x) => x.code === 0x85);
    expect([call, call + 1, call + 2, call + 7].map(text)).toEqual([
      '(85) call bpf_get_current_task_btf#158',
      '(79) r1 = *(u64 *)(r0 +0)',
      '(79) r2 = *(u64 *)(r1 +0)',
      '(85) call bpf_cgrp_storage_get#210',
    ]);
    const ext = readBtfExt(elfSection(elf, '.BTF.ext')!.bytes, btf);
    const relos = ext.coreRelo.flatMap((sec) => sec.records.map((r) => {
      const t = btf.types[r.typeId] as BtfTypeOf<'STRUCT'>;
      return [sec.section, text(r.insnOff / 8), r.kind, `${t.name}.${t.members[0]!.name}`, r.accessStr];
    }));
    expect(relos).toEqual([
      ['?tc', '(79) r1 = *(u64 *)(r0 +0)', 'FIELD_BYTE_OFFSET', 'task_struct.cgroups', '0:0'],
      ['?tc', '(79) r2 = *(u64 *)(r1 +0)', 'FIELD_BYTE_OFFSET', 'css_set.dfl_cgrp', '0:0'],
    ]);
    // the walk's types as kptr.h declares them: struct cgroup only forward-declared
    const cssSet = btf.types.find((t): t is BtfTypeOf<'STRUCT'> => t.kind === 'STRUCT' && t.name === 'css_set')!;
    expect(cTypeName(btf, cssSet.members[0]!.type)).toBe('struct cgroup *');
  });
});
