import { readBtf } from '../../bpf/btf/readBtf.ts';
import { readBtfExt, type BtfExt } from '../../bpf/btf/btfExt.ts';
import type { Btf } from '../../bpf/btf/kinds.ts';
import { elfSection, readElf, type ElfFile, type ElfSectionHeader, type ElfSymbolEntry } from '../../bpf/elf/readElf.ts';
import { SHF, SHT } from '../../bpf/elf/elfAbi.ts';
import { ObjectFormatError } from '../../bpf/ObjectFormatError.ts';
import { skipModifiers } from '../../bpf/btf/skipModifiers.ts';
import { typeSize } from '../../bpf/btf/typeSize.ts';
import { datasecs, kptrFields, signedness, spinLockOffset } from './btfQueries.ts';
import {
  BPF_F_MMAPABLE, BPF_F_RDONLY_PROG, LOCAL_STORAGE_MAP_TYPES, MAP_TYPE_IDS,
  type BpfMapType, type BpfObjectSpec, type DatasecVar, type KfuncSpec, type KptrField, type MapSpec,
} from './objectSpec.ts';
import { ProgramLinker, type ObjectIndex, type SectionFixups } from './ProgramLinker.ts';

export interface LoadOptions {
  /** `.rodata` variables set before load, as a skeleton's `rodata->nr_cpus = n` (names absent from the object are ignored) */
  readonly rodata?: Readonly<Record<string, number | bigint>>;
}

const MAP_TYPES = Object.fromEntries(Object.entries(MAP_TYPE_IDS).map(([k, v]) => [v, k])) as Record<number, BpfMapType>;
const INTERNAL = /^\.(bss|data|rodata)(\..+)?$/;
/** map_flags bit local storage maps require (include/uapi/linux/bpf.h) */
const BPF_F_NO_PREALLOC = 1;
type Datasecs = ReturnType<typeof datasecs>;

/**
 * A BPF object's bytes → what libbpf (v1.1, bpf_object__open + the relocation half of bpf_object__load) would make
 * of it: programs from the STT_FUNC symbols of executable sections, typed by their SEC() name; maps from the `.maps`
 * BTF and the internal .bss/.data/.rodata(.*) maps; every relocation applied (maps, globals, kfunc externs from
 * `.ksyms`, weak externs, subprogram calls, CO-RE TYPE_ID_LOCAL); kptr fields from BTF type tags.
 * @throws ObjectFormatError (KPTR_OBJECT_MALFORMED) naming the section and byte offset of the first thing it cannot use
 */
export function loadObject(bytes: Uint8Array, options: LoadOptions = {}): BpfObjectSpec {
  const elf = readElf(bytes);
  const btfSection = elfSection(elf, '.BTF');
  if (!btfSection) throw new ObjectFormatError('.BTF', 0, 'the object has no .BTF section (libbpf needs it for .maps and kfunc externs: build with clang -g)');
  const btf = readBtf(btfSection.bytes);
  const extSection = elfSection(elf, '.BTF.ext');
  const ext: BtfExt | null = extSection ? readBtfExt(extSection.bytes, btf) : null;

  const licenseSection = elfSection(elf, 'license');
  const license = licenseSection ? Buffer.from(licenseSection.bytes).toString('latin1').replace(/\0.*$/s, '') : '';

  const secs = datasecs(btf);
  const maps = [...btfMaps(elf, btf, secs), ...internalMaps(elf, btf, secs, options.rodata ?? {})];
  const kfuncs = ksymsFuncs(elf, btf, secs);
  const index = indexObject(elf, btf, ext, maps, kfuncs);
  const programs = elf.symbols
    .filter((s) => s.type === 'func' && s.section !== null && s.section !== '.text' && index.codeSections.has(s.section))
    .map((s) => ProgramLinker.link(index, s));
  return { license, programs, maps, kfuncs, btf };
}

type Fixups = { -readonly [K in keyof SectionFixups]: SectionFixups[K] };

function indexObject(elf: ElfFile, btf: Btf, ext: BtfExt | null, maps: readonly MapSpec[], kfuncs: readonly KfuncSpec[]): ObjectIndex {
  const codeSections = new Map(elf.sections.filter((s) => (s.flags & SHF.EXECINSTR) !== 0).map((s) => [s.name, s]));
  const fixups = new Map<string, Fixups>();
  const fixupsOf = (code: ElfSectionHeader): Fixups => {
    let f = fixups.get(code.name);
    if (!f) {
      const n = Math.floor(code.size / 8);
      fixups.set(code.name, (f = { rel: null, relByInsn: new Int32Array(n), core: [], coreByInsn: new Int32Array(n) }));
    }
    return f;
  };
  // a later REL section (or .BTF.ext entry) for the same code section replaces an earlier one, as a Map keyed by section would
  for (const r of elf.relocations) {
    const code = codeSections.get(r.target);
    if (!code) continue;
    const f = fixupsOf(code);
    f.rel = r;
    f.relByInsn.fill(0);
    for (let k = 0; k < r.offsets.length; k++) {
      const i = (r.offsets[k] as number) / 8;
      if (Number.isInteger(i) && i < f.relByInsn.length) f.relByInsn[i] = k + 1;
    }
  }
  for (const c of ext?.coreRelo ?? []) {
    const code = codeSections.get(c.section);
    if (!code || c.records.length === 0) continue;
    const f = fixupsOf(code);
    f.core = c.records;
    f.coreByInsn.fill(0);
    c.records.forEach((r, k) => {
      const i = r.insnOff / 8;
      if (Number.isInteger(i) && i < f.coreByInsn.length) f.coreByInsn[i] = k + 1;
    });
  }
  const mapByName = new Map<string, number>();
  const mapBySection = new Map<string, number>();
  maps.forEach((m, i) => {
    if (m.internal === null) mapByName.set(m.name, i);
    else mapBySection.set(m.internal.section, i);
  });
  return {
    elf,
    btf,
    kfuncByName: new Map(kfuncs.map((k, i) => [k.name, i])),
    codeSections,
    code: new Map(),
    sectionKinds: new Map(),
    functions: null,
    fixups,
    funcInfo: funcInfoBySection(ext),
    mapByName,
    mapBySection,
    symbolTargets: new Int32Array(elf.symbols.length),
  };
}

/**
 * per code section: the BTF FUNC id of each function by its byte offset (func_info); a later section or record for the
 * same key replaces an earlier one. Loops, not Maps made from arrays of pairs (an array per function).
 */
function funcInfoBySection(ext: BtfExt | null): Map<string, Map<number, number>> {
  const out = new Map<string, Map<number, number>>();
  for (const f of ext?.funcInfo ?? []) {
    const byOffset = new Map<number, number>();
    for (const r of f.records) byOffset.set(r.insnOff, r.typeId);
    out.set(f.section, byOffset);
  }
  return out;
}

/** `__uint(name, n)` is `int (*name)[n]`; `__type(name, T)` is `T *name` */
function mapDefField(btf: Btf, typeId: number): { readonly uint: number | null; readonly pointee: number } {
  const p = btf.types[skipModifiers(btf, typeId)];
  if (p?.kind !== 'PTR') return { uint: null, pointee: 0 };
  const a = btf.types[p.type];
  return { uint: a?.kind === 'ARRAY' ? a.nelems : null, pointee: p.type };
}

/** a bad .maps variable at `offset` (a function, not a closure per variable) */
function mapError(offset: number, what: string): never {
  throw new ObjectFormatError('.maps', offset, what);
}

/** Maps of the `.maps` section, from its DATASEC (libbpf bpf_object__init_user_btf_maps / parse_btf_map_def). */
function btfMaps(elf: ElfFile, btf: Btf, secs: Datasecs): MapSpec[] {
  if (!elfSection(elf, '.maps')) return [];
  const sec = secs.get('.maps');
  if (!sec) throw new ObjectFormatError('.maps', 0, 'no DATASEC .maps in .BTF for the .maps section');
  return sec.type.vars.map((v) => {
    const variable = btf.types[v.type];
    if (variable?.kind !== 'VAR') return mapError(v.offset, `DATASEC .maps entry [${v.type}] is not a VAR`);
    const def = btf.types[skipModifiers(btf, variable.type)];
    if (def?.kind !== 'STRUCT') return mapError(v.offset, `map ${variable.name}: its definition is not a struct`);
    let type: number | null = null, maxEntries: number | null = null, flags = 0;
    let keySize: number | null = null, valueSize: number | null = null, keyTypeId: number | null = null, valueTypeId: number | null = null;
    for (const m of def.members) {
      const f = mapDefField(btf, m.type);
      switch (m.name) {
        case 'type': type = f.uint; break;
        case 'max_entries': maxEntries = f.uint; break;
        case 'map_flags': flags = f.uint ?? 0; break;
        case 'key_size': keySize = f.uint; break;
        case 'value_size': valueSize = f.uint; break;
        case 'key': keyTypeId = f.pointee; keySize = typeSize(btf, f.pointee); break;
        case 'value': valueTypeId = f.pointee; valueSize = typeSize(btf, f.pointee); break;
        default: mapError(v.offset, `map ${variable.name}: unsupported map definition field '${m.name}'`);
      }
    }
    const mapType = type === null ? null : MAP_TYPES[type];
    if (!mapType) return mapError(v.offset, `map ${variable.name}: map type ${type ?? '(none)'} is not one the emulator knows (array, hash, lru_hash, percpu_array, percpu_hash, lru_percpu_hash, task_storage, cgrp_storage)`);
    // local storage has no max_entries (one element per owner) and must be BPF_F_NO_PREALLOC (bpf_local_storage_map_alloc_check)
    if (LOCAL_STORAGE_MAP_TYPES.has(mapType)) {
      if (maxEntries !== null && maxEntries !== 0) return mapError(v.offset, `map ${variable.name}: a ${mapType} map has max_entries 0`);
      if ((flags & BPF_F_NO_PREALLOC) === 0) return mapError(v.offset, `map ${variable.name}: a ${mapType} map needs BPF_F_NO_PREALLOC`);
    } else if (maxEntries === null || maxEntries < 1) return mapError(v.offset, `map ${variable.name}: max_entries must be set and positive`);
    if (keySize === null || valueSize === null || keySize < 1 || valueSize < 1) return mapError(v.offset, `map ${variable.name}: key and value sizes must be known and positive`);
    return {
      name: variable.name, type: mapType, keySize, valueSize, maxEntries: maxEntries ?? 0, flags, keyTypeId, valueTypeId,
      internal: null, initial: null, kptrFields: valueTypeId === null ? [] : kptrFields(btf, valueTypeId),
      spinLockOffset: valueTypeId === null ? null : spinLockOffset(btf, valueTypeId), vars: [],
    };
  });
}

/** .bss/.data/.rodata(.*) sections as one-element ARRAY maps (libbpf bpf_object__init_internal_map). */
function internalMaps(elf: ElfFile, btf: Btf, secs: Datasecs, rodata: Readonly<Record<string, number | bigint>>): MapSpec[] {
  const out: MapSpec[] = [];
  // the last object symbol of each name; one Map, not one per section (objects hold a section per kptr global)
  const objectByName = new Map<string, ElfSymbolEntry>();
  for (const x of elf.symbols) if (x.type === 'object' && x.section !== null) objectByName.set(x.name, x);
  /** the last object symbol called `name` in `section` */
  const objectIn = (section: string, name: string): ElfSymbolEntry | undefined => {
    const last = objectByName.get(name);
    if (last === undefined || last.section === section) return last;
    for (let i = elf.symbols.length - 1; i >= 0; i--) {
      const x = elf.symbols[i]!;
      if (x.type === 'object' && x.section === section && x.name === name) return x;
    }
    return undefined;
  };
  const sections: { s: ElfSectionHeader; kind: 'bss' | 'data' | 'rodata' }[] = [];
  for (const s of elf.sections) {
    if ((s.flags & SHF.ALLOC) === 0 || (s.flags & SHF.EXECINSTR) !== 0 || s.size === 0) continue;
    const m = INTERNAL.exec(s.name);
    if (m) sections.push({ s, kind: m[1] as 'bss' | 'data' | 'rodata' });
  }
  // the initial values share one buffer: objects hold a .bss section per scenario
  const initials = new Uint8Array(sections.reduce((a, { s }) => a + s.size, 0));
  let used = 0;
  for (const { s, kind } of sections) {
    const sec = secs.get(s.name);
    const initial = initials.subarray(used, used + s.size);
    used += s.size;
    if (s.type !== SHT.NOBITS) initial.set(s.bytes);
    const vars: DatasecVar[] = (sec?.type.vars ?? []).map((v) => {
      const variable = btf.types[v.type];
      if (variable?.kind !== 'VAR') throw new ObjectFormatError(s.name, v.offset, `DATASEC ${s.name} entry [${v.type}] is not a VAR`);
      // btf_fixup_datasec: clang-16 leaves DATASEC offsets 0, libbpf takes each variable's from its ELF symbol
      const sym = objectIn(s.name, variable.name);
      const offset = sym ? sym.value : v.offset;
      if (offset + v.size > s.size) throw new ObjectFormatError(s.name, offset, `variable ${variable.name} (${v.size} bytes) runs past the section's ${s.size} bytes`);
      return { name: variable.name, offset, size: v.size, typeId: variable.type, signed: signedness(btf, variable.type) };
    });
    if (kind === 'rodata') {
      for (const v of vars) {
        const value = rodata[v.name];
        if (value === undefined) continue;
        const u = BigInt.asUintN(64, BigInt(value));
        for (let i = 0; i < v.size; i++) initial[v.offset + i] = Number((u >> BigInt(8 * i)) & 0xffn);
      }
    }
    const fields: KptrField[] = [];
    for (const v of vars) kptrFields(btf, v.typeId, v.offset, fields);
    out.push({
      name: s.name, type: 'array', keySize: 4, valueSize: s.size, maxEntries: 1,
      flags: (kind === 'rodata' ? BPF_F_RDONLY_PROG : 0) | (fields.length === 0 ? BPF_F_MMAPABLE : 0),
      keyTypeId: null, valueTypeId: sec?.id ?? null, internal: { section: s.name, kind }, initial, kptrFields: fields, spinLockOffset: null, vars,
    });
  }
  return out;
}

/** Kfunc externs: FUNCs of the `.ksyms` DATASEC, weak when their ELF symbol is. */
function ksymsFuncs(elf: ElfFile, btf: Btf, secs: Datasecs): KfuncSpec[] {
  const sec = secs.get('.ksyms');
  if (!sec) return [];
  // the first undefined symbol of each name, as a search from the start would find it
  const externs = new Map<string, ElfSymbolEntry>();
  for (const s of elf.symbols) if (s.section === null && !externs.has(s.name)) externs.set(s.name, s);
  return sec.type.vars.flatMap((v) => {
    const f = btf.types[v.type];
    if (f?.kind !== 'FUNC') return [];
    const sym = externs.get(f.name);
    return [{ name: f.name, btfFuncId: v.type, weak: sym?.bind === 'weak' }];
  });
}
