import { memberOffsets, scalarSigned, scalarSize, structLayout } from '../../cabi/structLayout.ts';
import { hasSpinLock, SLOT_MAP_MAX_ENTRIES, SLOT_VALUE_KPTR_OFF, SLOT_VALUE_LOCK_OFF, SLOT_VALUE_SUM_OFF, slotValueSize } from '../../cabi/slotMap.ts';
import type { LocalStorageKind, MapType, ProgType, ScalarCType, Scenario, Slot, StructMember } from '../../types/index.ts';
import { batchLicense } from '../codegen/emit.ts';
import { PROGRAM_SECTIONS } from '../codegen/emitProgram.ts';
import { globalSlotSection, slotElemName } from '../codegen/scenarioIdentifiers.ts';
import { batchKfuncs } from '../codegen/scenarioKfuncs.ts';
import { emitInto } from '../../bpf/asm/I.ts';
import { InsnBuffer } from '../../bpf/asm/insn.ts';
import { BtfWriter, writeBtfExt, type BtfVarSecinfo, type CoreRelo } from '../../bpf/btf/index.ts';
import { writeElf, type ElfRelocation, type ElfSection, type ElfSymbol } from '../../bpf/elf/index.ts';
import { type CodeSection, type KernelStructName, lowerProgram, OWNER_CGROUP_PATH } from './lowerProgram.ts';

/** enum bpf_map_type */
const MAP_TYPE: Readonly<Record<MapType, number>> = { hash: 1, array: 2, percpu_hash: 5, percpu_array: 6, lru_hash: 9, lru_percpu_hash: 10 };
/** BPF_MAP_TYPE_TASK_STORAGE, BPF_MAP_TYPE_CGRP_STORAGE */
const LOCAL_STORAGE_MAP_TYPE: Readonly<Record<LocalStorageKind, number>> = { task_storage: 29, cgrp_storage: 32 };
/** BPF_F_NO_PREALLOC, which local storage maps require */
const BPF_F_NO_PREALLOC = 1;

/** The C types kptr.h's headers give the scalar types: the BTF INT's name, and the typedef over it if any. */
const SCALAR_BTF: Readonly<Record<ScalarCType, { readonly int: string; readonly typedef: string | null }>> = {
  char: { int: 'char', typedef: null },
  short: { int: 'short', typedef: null },
  int: { int: 'int', typedef: null },
  long: { int: 'long', typedef: null },
  __u8: { int: 'unsigned char', typedef: '__u8' },
  __u16: { int: 'unsigned short', typedef: '__u16' },
  __u32: { int: 'unsigned int', typedef: '__u32' },
  __u64: { int: 'unsigned long long', typedef: '__u64' },
  __s8: { int: 'signed char', typedef: '__s8' },
  __s16: { int: 'short', typedef: '__s16' },
  __s32: { int: 'int', typedef: '__s32' },
  __s64: { int: 'long long', typedef: '__s64' },
};

/** Each kfunc of kptr.h as a BTF prototype: libbpf checks it against the kernel's before it resolves the extern. */
type KfuncProto = (b: BtfTypes) => number;
const KFUNC_PROTOS: Readonly<Record<string, KfuncProto>> = {
  bpf_percpu_obj_new_impl: (b) => b.w.funcProto(b.voidPtr(), [{ name: '', type: b.scalar('__u64') }, { name: '', type: b.voidPtr() }]),
  bpf_obj_new_impl: (b) => b.w.funcProto(b.voidPtr(), [{ name: '', type: b.scalar('__u64') }, { name: '', type: b.voidPtr() }]),
  bpf_percpu_obj_drop_impl: (b) => b.w.funcProto(0, [{ name: '', type: b.voidPtr() }, { name: '', type: b.voidPtr() }]),
  bpf_obj_drop_impl: (b) => b.w.funcProto(0, [{ name: '', type: b.voidPtr() }, { name: '', type: b.voidPtr() }]),
  bpf_rcu_read_lock: (b) => b.w.funcProto(0, []),
  bpf_rcu_read_unlock: (b) => b.w.funcProto(0, []),
  bpf_iter_num_new: (b) => b.w.funcProto(b.scalar('int'), [{ name: '', type: b.iterPtr() }, { name: '', type: b.scalar('int') }, { name: '', type: b.scalar('int') }]),
  bpf_iter_num_next: (b) => b.w.funcProto(b.w.ptr(b.scalar('int')), [{ name: '', type: b.iterPtr() }]),
  bpf_iter_num_destroy: (b) => b.w.funcProto(0, [{ name: '', type: b.iterPtr() }]),
};

/** The BTF types every object shares, made on first use. */
class BtfTypes {
  private readonly scalars = new Map<ScalarCType, number>();

  constructor(readonly w: BtfWriter) {}

  scalar(ctype: ScalarCType): number {
    let id = this.scalars.get(ctype);
    if (id === undefined) {
      const t = SCALAR_BTF[ctype];
      const int = this.w.int(t.int, scalarSize(ctype), scalarSigned(ctype));
      this.scalars.set(ctype, (id = t.typedef === null ? int : this.w.typedef(t.typedef, int)));
    }
    return id;
  }

  voidPtr(): number {
    return this.w.ptr(0);
  }

  iterPtr(): number {
    return this.w.ptr(this.w.once('struct:bpf_iter_num', () => this.w.struct('bpf_iter_num', 8, [{ name: '__opaque', type: this.w.array(this.scalar('__u64'), 1), bitOffset: 0 }])));
  }

  spinLock(): number {
    return this.w.once('struct:bpf_spin_lock', () => this.w.struct('bpf_spin_lock', 4, [{ name: 'val', type: this.scalar('__u32'), bitOffset: 0 }]));
  }

  /**
   * kptr.h's `struct task_struct { struct css_set *cgroups; }` and `struct css_set { struct cgroup *dfl_cgrp; }`
   * (`struct cgroup` a FWD), the local types of the CO-RE walk to the current cgroup: the struct's id by name.
   */
  kernelStruct(name: KernelStructName): number {
    const ptrTo = (pointee: string): number => this.w.ptr(pointee === 'cgroup' ? this.w.fwd(pointee) : this.kernelStruct(pointee as KernelStructName));
    const step = OWNER_CGROUP_PATH.find((s) => s.struct === name)!;
    return this.w.once(`struct:${name}`, () => this.w.struct(name, 8, [{ name: step.member, type: ptrTo(step.pointee), bitOffset: 0 }]));
  }

  /** `int (*name)[n]`: how libbpf's __uint() encodes a number in a BTF-defined map */
  uint(n: number): number {
    return this.w.ptr(this.w.array(this.scalar('int'), n));
  }
}

/**
 * A BPF object for a batch of scenarios, written without clang: the ELF, BTF and .BTF.ext that clang -g -O2 gives
 * emitBatch's C, with each program lowered by lowerProgram. Same sections, symbols and BTF names, so libbpf and the
 * harness treat it as the compiled C (the harness protocol is unchanged).
 * @throws KptrError KPTR_SCENARIO_INVALID as emitBatch does
 */
export function writeObject(scenarios: readonly Scenario[]): Uint8Array {
  const license = batchLicense(scenarios);
  const w = new BtfWriter();
  const b = new BtfTypes(w);

  // structs first: ids reserved for all so kptr members may point to any
  const structIds = new Map<string, number>();
  for (const s of scenarios) for (const t of s.structs) structIds.set(t.name, w.reserveStruct());
  for (const s of scenarios) {
    for (const t of s.structs) {
      const members = memberOffsets(s.structs, t.name).map(({ member, off }) => ({ name: member.name, type: memberType(b, structIds, member), bitOffset: off * 8 }));
      w.defineStruct(structIds.get(t.name) as number, t.name, structLayout(s.structs, t.name).size, members);
    }
  }
  const slotPointer = (slot: Slot): number => w.ptr(w.typeTag(slot.tag, structIds.get(slot.pointee) ?? missing(slot.pointee)));

  const sections: ElfSection[] = [];
  const symbols: ElfSymbol[] = [];
  const datasecs: { name: string; size: number; vars: BtfVarSecinfo[] }[] = [];
  const mapVars: BtfVarSecinfo[] = [];
  const bssVars: BtfVarSecinfo[] = [];
  let bssSize = 0;
  for (const s of scenarios) {
    for (const slot of s.slots) {
      if (slot.home.kind === 'global') {
        const section = globalSlotSection(slot.name, slot.home.section);
        const v = w.variable(slot.name, slotPointer(slot), 'static');
        datasecs.push({ name: section, size: 8, vars: [{ type: v, offset: 0, size: 8 }] });
        sections.push({ name: section, contents: slot.home.section === 'bss' ? { nobits: 8 } : { bytes: new Uint8Array(8) }, flags: 'data', align: 8 });
        symbols.push({ name: slot.name, section, value: 0, size: 8, type: 'object', bind: 'local' });
        continue;
      }
      const elem = w.struct(slotElemName(slot.name), slotValueSize(slot.home), [
        { name: 'sum', type: b.scalar('long'), bitOffset: SLOT_VALUE_SUM_OFF * 8 },
        { name: 'pc', type: slotPointer(slot), bitOffset: SLOT_VALUE_KPTR_OFF * 8 },
        ...(hasSpinLock(slot.home) ? [{ name: 'lock', type: b.spinLock(), bitOffset: SLOT_VALUE_LOCK_OFF * 8 }] : []),
      ]);
      const def = w.struct('', 32, [
        ...(slot.home.kind === 'map'
          ? [{ name: 'type', type: b.uint(MAP_TYPE[slot.home.mapType]), bitOffset: 0 }, { name: 'max_entries', type: b.uint(SLOT_MAP_MAX_ENTRIES), bitOffset: 64 }]
          : [{ name: 'type', type: b.uint(LOCAL_STORAGE_MAP_TYPE[slot.home.kind]), bitOffset: 0 }, { name: 'map_flags', type: b.uint(BPF_F_NO_PREALLOC), bitOffset: 64 }]),
        { name: 'key', type: w.ptr(b.scalar('int')), bitOffset: 128 },
        { name: 'value', type: w.ptr(elem), bitOffset: 192 },
      ]);
      const offset = mapVars.length * 32;
      mapVars.push({ type: w.variable(slot.name, def, 'global'), offset, size: 32 });
      symbols.push({ name: slot.name, section: '.maps', value: offset, size: 32, type: 'object', bind: 'global' });
    }
    for (const g of s.globals) {
      const size = scalarSize(g.ctype);
      bssSize = Math.ceil(bssSize / size) * size;
      bssVars.push({ type: w.variable(g.name, b.scalar(g.ctype), 'global'), offset: bssSize, size });
      symbols.push({ name: g.name, section: '.bss', value: bssSize, size, type: 'object', bind: 'global' });
      bssSize += size;
    }
  }

  // programs, grouped by section as clang groups functions of one SEC() name
  const proto = w.funcProto(b.scalar('int'), [{ name: 'ctx', type: b.voidPtr() }]);
  // each program lowered into its section's buffer, offsets the section's
  const code = new Map<ProgType, CodeSection & { funcs: { off: number; type: number }[]; core: CoreRelo[] }>();
  for (const s of scenarios) {
    for (const p of s.programs) {
      let sec = code.get(p.progType);
      if (!sec) {
        const insns = new InsnBuffer();
        code.set(p.progType, (sec = { insns, emit: emitInto(insns), relocations: [], fieldRelocations: [], funcs: [], core: [] }));
      }
      const off = sec.insns.length * 8;
      const firstField = sec.fieldRelocations.length;
      lowerProgram(s, p, { structIds }, sec);
      sec.funcs.push({ off, type: w.func(p.name, proto, 'global') });
      for (let k = firstField; k < sec.fieldRelocations.length; k++) {
        const r = sec.fieldRelocations[k]!;
        sec.core.push({ insnOff: r.offset, typeId: b.kernelStruct(r.struct), accessStr: r.accessStr, kind: 'FIELD_BYTE_OFFSET' });
      }
      symbols.push({ name: p.name, section: PROGRAM_SECTIONS[p.progType], value: off, size: sec.insns.length * 8 - off, type: 'func', bind: 'global' });
    }
  }
  const codeSections = [...code.entries()].map(([t, sec]) => ({ name: PROGRAM_SECTIONS[t], insns: sec.insns, relocations: sec.relocations, funcs: sec.funcs, core: sec.core }));

  const ksyms = batchKfuncs(scenarios).map((name) => {
    const make = KFUNC_PROTOS[name];
    if (!make) throw new Error(`writeObject: no BTF prototype for kfunc ${name}`);
    symbols.push({ name, section: null, value: 0, size: 0, type: 'notype', bind: 'weak' });
    return { type: w.func(name, make(b), 'extern'), offset: 0, size: 0 };
  });

  const licenseBytes = Buffer.from(`${license}\0`);
  const licenseVar = w.variable('_license', w.array(b.scalar('char'), licenseBytes.length), 'global');
  const nrCpus = w.variable('nr_cpus', w.const(w.volatile(b.scalar('__u32'))), 'global');
  symbols.push(
    { name: '_license', section: 'license', value: 0, size: licenseBytes.length, type: 'object', bind: 'global' },
    { name: 'nr_cpus', section: '.rodata', value: 0, size: 4, type: 'object', bind: 'global' },
  );
  for (const d of datasecs) w.datasec(d.name, d.size, d.vars);
  if (bssVars.length > 0) w.datasec('.bss', bssSize, bssVars);
  if (ksyms.length > 0) w.datasec('.ksyms', 0, ksyms);
  if (mapVars.length > 0) w.datasec('.maps', mapVars.length * 32, mapVars);
  w.datasec('.rodata', 4, [{ type: nrCpus, offset: 0, size: 4 }]);
  w.datasec('license', licenseBytes.length, [{ type: licenseVar, offset: 0, size: licenseBytes.length }]);

  // .BTF.ext: one bpf_func_info per program and the CO-RE field relocations (no line info)
  const btfExt = writeBtfExt({
    funcInfo: codeSections.map((c) => ({ section: c.name, records: c.funcs.map((f) => ({ insnOff: f.off, typeId: f.type })) })),
    lineInfo: [],
    coreRelo: codeSections.filter((c) => c.core.length > 0).map((c) => ({ section: c.name, records: c.core })),
  }, (s) => w.str(s));
  return writeElf(
    [
      ...codeSections.map((c): ElfSection => ({ name: c.name, contents: { bytes: c.insns.bytes() }, flags: 'code', align: 8, relocations: c.relocations })),
      { name: 'license', contents: { bytes: licenseBytes }, flags: 'data', align: 1 },
      ...(mapVars.length > 0 ? [{ name: '.maps', contents: { bytes: new Uint8Array(mapVars.length * 32) }, flags: 'data', align: 8 } as const] : []),
      { name: '.rodata', contents: { bytes: new Uint8Array(4) }, flags: 'rodata', align: 4 },
      ...(bssVars.length > 0 ? [{ name: '.bss', contents: { nobits: bssSize }, flags: 'data', align: 8 } as const] : []),
      ...sections,
      { name: '.BTF', contents: { bytes: w.encode() }, flags: 'none', align: 4 },
      { name: '.BTF.ext', contents: { bytes: btfExt }, flags: 'none', align: 4 },
    ],
    symbols,
  );
}

function memberType(b: BtfTypes, structIds: ReadonlyMap<string, number>, m: StructMember): number {
  switch (m.kind) {
    case 'scalar':
      return arrayOf(b, b.scalar(m.ctype), m.count);
    case 'struct':
      return arrayOf(b, structIds.get(m.struct) ?? missing(m.struct), m.count);
    case 'pointer':
      return b.w.ptr(b.scalar('char'));
    case 'spin_lock':
      return b.spinLock();
    case 'kptr':
      return b.w.ptr(b.w.typeTag('kptr', structIds.get(m.pointee) ?? missing(m.pointee)));
  }
}

/** a member's type, an array of it when it has a count (a function, not a closure per member: tsx names each one) */
function arrayOf(b: BtfTypes, elem: number, count: number | null): number {
  return count === null ? elem : b.w.array(elem, count);
}

function missing(struct: string): never {
  throw new Error(`writeObject: struct ${struct} is not defined`);
}
