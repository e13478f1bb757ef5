import { readBtf } from '../../bpf/btf/readBtf.ts';
import { readBtfExt, type BtfExt } from '../../bpf/btf/btfExt.ts';
import type { Btf } from '../../bpf/btf/kinds.ts';
import { decodeInsns, type Insn } from '../../bpf/asm/insn.ts';
import { elfSection, readElf, type ElfFile, type ElfSymbolEntry } from '../../bpf/elf/readElf.ts';
import { SHF, SHT } from '../../bpf/elf/elfAbi.ts';
import { ObjectFormatError } from '../../bpf/ObjectFormatError.ts';
import { datasec, kptrFields, signedness, sizeOf, skipModifiers } from './btfQueries.ts';
import {
  BPF_F_MMAPABLE, BPF_F_RDONLY_PROG, MAP_TYPE_IDS,
  type BpfMapType, type BpfObjectSpec, type DatasecVar, type KfuncSpec, type MapSpec, type ProgramSpec, type Relocation,
} from './objectSpec.ts';
import { programSection } from './programSection.ts';

export interface LoadOptions {
  /** `.rodata` variables set before load, as a skeleton's `rodata->nr_cpus = n` (names absent from the object are ignored) */
  readonly rodata?: Readonly<Record<string, number | bigint>>;
}

const MAP_TYPES = Object.fromEntries(Object.entries(MAP_TYPE_IDS).map(([k, v]) => [v, k])) as Record<number, BpfMapType>;
const INTERNAL = /^\.(bss|data|rodata)(\..+)?$/;
const LD_IMM64 = 0x18;
const CALL = 0x85;
const BPF_PSEUDO_MAP_FD = 1, BPF_PSEUDO_MAP_VALUE = 2, BPF_PSEUDO_CALL = 1, BPF_PSEUDO_KFUNC_CALL = 2;

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

  const maps = [...btfMaps(elf, btf), ...internalMaps(elf, btf, options.rodata ?? {})];
  const kfuncs = ksymsFuncs(elf, btf);
  const programs = elf.symbols
    .filter((s) => s.type === 'func' && s.section !== null && s.section !== '.text' && isCode(elf, s.section))
    .map((s) => relocateProgram(elf, btf, ext, s, maps, kfuncs));
  return { license, programs, maps, kfuncs, btf };
}

function isCode(elf: ElfFile, section: string): boolean {
  const s = elfSection(elf, section);
  return s !== null && (s.flags & SHF.EXECINSTR) !== 0;
}

/** `__uint(name, n)` is `int (*name)[n]`; `__type(name, T)` is `T *name` */
function mapDefField(btf: Btf, typeId: number): { readonly uint: number | null; readonly pointee: number } {
  const p = btf.types[skipModifiers(btf, typeId)];
  if (p?.kind !== 'PTR') return { uint: null, pointee: 0 };
  const a = btf.types[p.type];
  return { uint: a?.kind === 'ARRAY' ? a.nelems : null, pointee: p.type };
}

/** Maps of the `.maps` section, from its DATASEC (libbpf bpf_object__init_user_btf_maps / parse_btf_map_def). */
function btfMaps(elf: ElfFile, btf: Btf): MapSpec[] {
  if (!elfSection(elf, '.maps')) return [];
  const sec = datasec(btf, '.maps');
  if (!sec) throw new ObjectFormatError('.maps', 0, 'no DATASEC .maps in .BTF for the .maps section');
  return sec.type.vars.map((v) => {
    const fail = (what: string): never => {
      throw new ObjectFormatError('.maps', v.offset, what);
    };
    const variable = btf.types[v.type];
    if (variable?.kind !== 'VAR') return fail(`DATASEC .maps entry [${v.type}] is not a VAR`);
    const def = btf.types[skipModifiers(btf, variable.type)];
    if (def?.kind !== 'STRUCT') return fail(`map ${variable.name}: its definition is not a struct`);
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
        case 'key': keyTypeId = f.pointee; keySize = sizeOf(btf, f.pointee); break;
        case 'value': valueTypeId = f.pointee; valueSize = sizeOf(btf, f.pointee); break;
        default: fail(`map ${variable.name}: unsupported map definition field '${m.name}'`);
      }
    }
    const mapType = type === null ? null : MAP_TYPES[type];
    if (!mapType) return fail(`map ${variable.name}: map type ${type ?? '(none)'} is not one the emulator knows (array, hash, lru_hash, percpu_array, percpu_hash)`);
    if (maxEntries === null || maxEntries < 1) return fail(`map ${variable.name}: max_entries must be set and positive`);
    if (keySize === null || valueSize === null || keySize < 1 || valueSize < 1) return fail(`map ${variable.name}: key and value sizes must be known and positive`);
    return {
      name: variable.name, type: mapType, keySize, valueSize, maxEntries, flags, keyTypeId, valueTypeId,
      internal: null, initial: null, kptrFields: valueTypeId === null ? [] : kptrFields(btf, valueTypeId), vars: [],
    };
  });
}

/** .bss/.data/.rodata(.*) sections as one-element ARRAY maps (libbpf bpf_object__init_internal_map). */
function internalMaps(elf: ElfFile, btf: Btf, rodata: Readonly<Record<string, number | bigint>>): MapSpec[] {
  const out: MapSpec[] = [];
  for (const s of elf.sections) {
    const m = INTERNAL.exec(s.name);
    if (!m || (s.flags & SHF.ALLOC) === 0 || (s.flags & SHF.EXECINSTR) !== 0 || s.size === 0) continue;
    const kind = m[1] as 'bss' | 'data' | 'rodata';
    const sec = datasec(btf, s.name);
    const initial = new Uint8Array(s.size);
    if (s.type !== SHT.NOBITS) initial.set(s.bytes);
    const vars: DatasecVar[] = (sec?.type.vars ?? []).map((v) => {
      const variable = btf.types[v.type];
      if (variable?.kind !== 'VAR') throw new ObjectFormatError(s.name, v.offset, `DATASEC ${s.name} entry [${v.type}] is not a VAR`);
      // btf_fixup_datasec: clang-16 leaves DATASEC offsets 0, libbpf takes each variable's from its ELF symbol
      const sym = elf.symbols.find((x) => x.name === variable.name && x.section === s.name && x.type === 'object');
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
    const fields = vars.flatMap((v) => kptrFields(btf, v.typeId, v.offset));
    out.push({
      name: s.name, type: 'array', keySize: 4, valueSize: s.size, maxEntries: 1,
      flags: (kind === 'rodata' ? BPF_F_RDONLY_PROG : 0) | (fields.length === 0 ? BPF_F_MMAPABLE : 0),
      keyTypeId: null, valueTypeId: sec?.id ?? null, internal: { section: s.name, kind }, initial, kptrFields: fields, vars,
    });
  }
  return out;
}

/** Kfunc externs: FUNCs of the `.ksyms` DATASEC, weak when their ELF symbol is. */
function ksymsFuncs(elf: ElfFile, btf: Btf): KfuncSpec[] {
  const sec = datasec(btf, '.ksyms');
  if (!sec) return [];
  return sec.type.vars.flatMap((v) => {
    const f = btf.types[v.type];
    if (f?.kind !== 'FUNC') return [];
    const sym = elf.symbols.find((s) => s.name === f.name && s.section === null);
    return [{ name: f.name, btfFuncId: v.type, weak: sym?.bind === 'weak' }];
  });
}

/** One program: its function's instructions, the subprograms it calls appended, every relocation applied. */
function relocateProgram(elf: ElfFile, btf: Btf, ext: BtfExt | null, main: ElfSymbolEntry, maps: readonly MapSpec[], kfuncs: readonly KfuncSpec[]): ProgramSpec {
  const section = main.section as string;
  const ps = programSection(section);
  if (!ps) throw new ObjectFormatError(section, main.value, `program ${main.name}: libbpf knows no program type for section name '${section}'`);
  if (main.bind === 'local') throw new ObjectFormatError(section, main.value, `program ${main.name} is static (libbpf: not supported)`);
  const code = new Map<string, Insn[]>();
  const sectionInsns = (name: string): Insn[] => {
    let c = code.get(name);
    if (!c) {
      const s = elfSection(elf, name);
      code.set(name, (c = s ? decodeInsns(s.bytes, name) : []));
    }
    return c;
  };
  const insns: Insn[] = [];
  const relocations: Relocation[] = [];
  const subprograms: { name: string; insn: number }[] = [];
  const placed = new Map<number, number>();

  const place = (sym: ElfSymbolEntry): number => {
    const at = placed.get(sym.index);
    if (at !== undefined) return at;
    const secName = sym.section as string;
    const all = sectionInsns(secName);
    const first = sym.value / 8;
    const count = sym.size / 8;
    if (!Number.isInteger(first) || !Number.isInteger(count) || first + count > all.length || count === 0) {
      throw new ObjectFormatError(secName, sym.value, `function ${sym.name} (${sym.size} bytes at ${sym.value}) is not whole instructions inside the section`);
    }
    const start = insns.length;
    placed.set(sym.index, start);
    if (sym !== main) subprograms.push({ name: sym.name, insn: start });
    insns.push(...all.slice(first, first + count));
    relocateRange(sym, start, first, count);
    return start;
  };

  const relocateRange = (sym: ElfSymbolEntry, start: number, first: number, count: number): void => {
    const secName = sym.section as string;
    const rel = elf.relocations.find((r) => r.target === secName);
    for (const [k, e] of (rel?.entries ?? []).entries()) {
      const idx = e.offset / 8 - first;
      if (idx < 0 || idx >= count) continue;
      const at = start + idx;
      const fail = (what: string): never => {
        throw new ObjectFormatError(rel?.name ?? secName, k * 16, `${what} (relocation at ${secName}+${e.offset})`);
      };
      const x = insns[at] as Insn;
      const target = elf.symbols[e.symbol] ?? fail(`symbol #${e.symbol} does not exist`);
      if (e.type === 'R_BPF_64_64') {
        if (x.code !== LD_IMM64 || at + 1 >= start + count) fail(`R_BPF_64_64 on an instruction that is not ld_imm64 (code 0x${x.code.toString(16)})`);
        const next = insns[at + 1] as Insn;
        if (target.section === null) {
          if (target.bind !== 'weak') fail(`ld_imm64 of extern ${target.name}: only kfunc calls and weak externs are supported`);
          insns[at] = { ...x, imm: 0 };
          insns[at + 1] = { ...next, imm: 0 };
          relocations.push({ kind: 'unresolved_weak', insn: at, name: target.name });
          continue;
        }
        if (target.section === '.maps') {
          const map = maps.findIndex((m) => m.internal === null && m.name === target.name);
          if (map < 0) fail(`ld_imm64 of ${target.name} in .maps, which defines no such map`);
          insns[at] = { ...x, src: BPF_PSEUDO_MAP_FD, imm: map };
          insns[at + 1] = { ...next, imm: 0 };
          relocations.push({ kind: 'map', insn: at, map });
          continue;
        }
        const map = maps.findIndex((m) => m.internal?.section === target.section);
        if (map < 0) fail(`ld_imm64 of ${target.name || target.section} in section ${target.section}, which is neither .maps nor a global data section`);
        const offset = (target.type === 'section' ? 0 : target.value) + x.imm;
        insns[at] = { ...x, src: BPF_PSEUDO_MAP_VALUE, imm: map };
        insns[at + 1] = { ...next, imm: offset };
        relocations.push({ kind: 'map_value', insn: at, map, offset });
        continue;
      }
      if (e.type === 'R_BPF_64_32') {
        if (x.code !== CALL || x.src !== BPF_PSEUDO_CALL) fail(`R_BPF_64_32 on an instruction that is not a call (code 0x${x.code.toString(16)} src ${x.src})`);
        if (target.section === null) {
          const kfunc = kfuncs.findIndex((f) => f.name === target.name);
          if (kfunc < 0) fail(`call of extern ${target.name}, which is not a FUNC in the .ksyms DATASEC`);
          insns[at] = { ...x, src: BPF_PSEUDO_KFUNC_CALL, imm: kfunc };
          relocations.push({ kind: 'kfunc', insn: at, kfunc });
          continue;
        }
        if (!isCode(elf, target.section)) fail(`call of ${target.name} in non-code section ${target.section}`);
        // libbpf: the callee instruction is st_value/8 + imm + 1 in the target section; place its function
        const calleeInsn = (target.type === 'section' ? 0 : target.value / 8) + x.imm + 1;
        const callee = elf.symbols.find((s) => s.type === 'func' && s.section === target.section && s.value / 8 <= calleeInsn && calleeInsn < (s.value + s.size) / 8);
        if (!callee) fail(`call into ${target.section} at instruction ${calleeInsn}, which no function symbol covers`);
        const calleeStart = place(callee as ElfSymbolEntry) + calleeInsn - (callee as ElfSymbolEntry).value / 8;
        insns[at] = { ...(insns[at] as Insn), imm: calleeStart - at - 1 };
        relocations.push({ kind: 'subprog', insn: at, target: calleeStart, name: (callee as ElfSymbolEntry).name });
        continue;
      }
      fail(`relocation type ${e.type} is not supported in code`);
    }
    // CO-RE: the only kind these objects carry is TYPE_ID_LOCAL (bpf_obj_new's local type id); libbpf writes the id itself
    const core = ext?.coreRelo.find((c) => c.section === secName)?.records ?? [];
    for (const c of core) {
      const idx = c.insnOff / 8 - first;
      if (idx < 0 || idx >= count) continue;
      const at = start + idx;
      if (c.kind !== 'TYPE_ID_LOCAL') throw new ObjectFormatError('.BTF.ext', 0, `CO-RE relocation ${c.kind} at ${secName}+${c.insnOff} is not supported (only TYPE_ID_LOCAL)`);
      const x = insns[at] as Insn;
      if (x.code !== LD_IMM64) throw new ObjectFormatError('.BTF.ext', 0, `CO-RE TYPE_ID_LOCAL at ${secName}+${c.insnOff} is not on an ld_imm64`);
      insns[at] = { ...x, imm: c.typeId };
      insns[at + 1] = { ...(insns[at + 1] as Insn), imm: 0 };
      relocations.push({ kind: 'type_id_local', insn: at, typeId: c.typeId });
    }
  };

  place(main);
  const funcInfo = ext?.funcInfo.find((f) => f.section === section)?.records.find((r) => r.insnOff === main.value);
  return {
    name: main.name, section, ...ps, insns, subprograms, relocations: relocations.sort((a, b) => a.insn - b.insn), btfFuncId: funcInfo?.typeId ?? null,
  };
}
