import type { CoreRelo } from '../../bpf/btf/btfExt.ts';
import { decodeInsns, LD_IMM64, type Insn } from '../../bpf/asm/insn.ts';
import { BPF_CALL, BPF_JMP, BPF_PSEUDO_CALL, BPF_PSEUDO_KFUNC_CALL, BPF_PSEUDO_MAP_FD, BPF_PSEUDO_MAP_VALUE } from '../../bpf/asm/opcode.ts';
import type { ElfFile, ElfRelocationEntry, ElfSectionHeader, ElfSymbolEntry } from '../../bpf/elf/readElf.ts';
import { ObjectFormatError } from '../../bpf/ObjectFormatError.ts';
import type { ProgramSpec, Relocation } from './objectSpec.ts';
import { programSection } from './programSection.ts';

const CALL = BPF_JMP | BPF_CALL;

/** Lookups every program's relocation needs, built once per object (objects hold hundreds of programs). */
export interface ObjectIndex {
  readonly elf: ElfFile;
  /** executable sections by name */
  readonly codeSections: ReadonlyMap<string, ElfSectionHeader>;
  /** decoded instructions of each code section, on first use */
  readonly code: Map<string, Insn[]>;
  /** per code section: its REL section's name and entries by instruction index (k: the entry's index there) */
  readonly relocs: ReadonlyMap<string, { readonly section: string; readonly byInsn: ReadonlyMap<number, { readonly k: number; readonly e: ElfRelocationEntry }> }>;
  /** per code section: CO-RE relocations by instruction index */
  readonly core: ReadonlyMap<string, ReadonlyMap<number, CoreRelo>>;
  /** per code section: BTF FUNC id by the function's byte offset (func_info) */
  readonly funcInfo: ReadonlyMap<string, ReadonlyMap<number, number>>;
  /** user maps by name, internal maps by section */
  readonly mapByName: ReadonlyMap<string, number>;
  readonly mapBySection: ReadonlyMap<string, number>;
  /** kfunc externs by name → index in BpfObjectSpec.kfuncs */
  readonly kfuncByName: ReadonlyMap<string, number>;
}

/**
 * One program as libbpf links it (bpf_object__relocate): its function's instructions, the subprograms it calls
 * appended after it (bpf_object__reloc_code), then every relocation applied (bpf_object__relocate_data) and
 * CO-RE TYPE_ID_LOCAL resolved (bpf_core_apply_relo).
 */
export class ProgramLinker {
  private readonly insns: Insn[] = [];
  private readonly relocations: Relocation[] = [];
  private readonly subprograms: { name: string; insn: number }[] = [];
  /** symbol index → where its code starts in `insns` */
  private readonly placed = new Map<number, number>();

  private constructor(
    private readonly index: ObjectIndex,
    private readonly main: ElfSymbolEntry,
  ) {}

  /** @throws ObjectFormatError naming the section and byte offset of what cannot be linked */
  static link(index: ObjectIndex, main: ElfSymbolEntry): ProgramSpec {
    const section = main.section as string;
    const ps = programSection(section);
    if (!ps) throw new ObjectFormatError(section, main.value, `program ${main.name}: libbpf knows no program type for section name '${section}'`);
    if (main.bind === 'local') throw new ObjectFormatError(section, main.value, `program ${main.name} is static (libbpf: not supported)`);
    const l = new ProgramLinker(index, main);
    l.place(main);
    return {
      name: main.name, section, ...ps, insns: l.insns, subprograms: l.subprograms, relocations: l.relocations.sort((a, b) => a.insn - b.insn),
      btfFuncId: index.funcInfo.get(section)?.get(main.value) ?? null,
    };
  }

  private sectionInsns(name: string): Insn[] {
    let c = this.index.code.get(name);
    if (!c) {
      const s = this.index.codeSections.get(name);
      this.index.code.set(name, (c = s ? decodeInsns(s.bytes, name) : []));
    }
    return c;
  }

  /** appends a function's code (once) and relocates it; returns where it starts */
  private place(sym: ElfSymbolEntry): number {
    const at = this.placed.get(sym.index);
    if (at !== undefined) return at;
    const secName = sym.section as string;
    const all = this.sectionInsns(secName);
    const first = sym.value / 8;
    const count = sym.size / 8;
    if (!Number.isInteger(first) || !Number.isInteger(count) || first + count > all.length || count === 0) {
      throw new ObjectFormatError(secName, sym.value, `function ${sym.name} (${sym.size} bytes at ${sym.value}) is not whole instructions inside the section`);
    }
    const start = this.insns.length;
    this.placed.set(sym.index, start);
    if (sym !== this.main) this.subprograms.push({ name: sym.name, insn: start });
    for (let i = first; i < first + count; i++) this.insns.push(all[i] as Insn);
    const rel = this.index.relocs.get(secName);
    const core = this.index.core.get(secName);
    for (let idx = 0; idx < count; idx++) {
      const r = rel?.byInsn.get(first + idx);
      if (r) this.relocate(start + idx, secName, rel!.section, r.k, r.e);
      const c = core?.get(first + idx);
      if (c) this.coreRelocate(start + idx, secName, c);
    }
    return start;
  }

  /** the relocation being applied, for errors (no closure per relocation: they are many) */
  private where = { relSection: '', k: 0, secName: '', offset: 0 };

  private fail(what: string): never {
    const w = this.where;
    throw new ObjectFormatError(w.relSection, w.k * 16, `${what} (relocation at ${w.secName}+${w.offset})`);
  }

  private relocate(at: number, secName: string, relSection: string, k: number, e: ElfRelocationEntry): void {
    this.where = { relSection, k, secName, offset: e.offset };
    const insns = this.insns;
    const x = insns[at] as Insn;
    const target = this.index.elf.symbols[e.symbol] ?? this.fail(`symbol #${e.symbol} does not exist`);
    if (e.type === 'R_BPF_64_64') {
      if (x.code !== LD_IMM64 || at + 1 >= insns.length) this.fail(`R_BPF_64_64 on an instruction that is not ld_imm64 (code 0x${x.code.toString(16)})`);
      const next = insns[at + 1] as Insn;
      if (target.section === null) {
        if (target.bind !== 'weak') this.fail(`ld_imm64 of extern ${target.name}: only kfunc calls and weak externs are supported`);
        insns[at] = { ...x, imm: 0 };
        insns[at + 1] = { ...next, imm: 0 };
        this.relocations.push({ kind: 'unresolved_weak', insn: at, name: target.name });
        return;
      }
      if (target.section === '.maps') {
        const map = this.index.mapByName.get(target.name) ?? this.fail(`ld_imm64 of ${target.name} in .maps, which defines no such map`);
        insns[at] = { ...x, src: BPF_PSEUDO_MAP_FD, imm: map };
        insns[at + 1] = { ...next, imm: 0 };
        this.relocations.push({ kind: 'map', insn: at, map });
        return;
      }
      const map = this.index.mapBySection.get(target.section) ?? this.fail(`ld_imm64 of ${target.name || target.section} in section ${target.section}, which is neither .maps nor a global data section`);
      const offset = (target.type === 'section' ? 0 : target.value) + x.imm;
      insns[at] = { ...x, src: BPF_PSEUDO_MAP_VALUE, imm: map };
      insns[at + 1] = { ...next, imm: offset };
      this.relocations.push({ kind: 'map_value', insn: at, map, offset });
      return;
    }
    if (e.type !== 'R_BPF_64_32') this.fail(`relocation type ${e.type} is not supported in code`);
    if (x.code !== CALL || x.src !== BPF_PSEUDO_CALL) this.fail(`R_BPF_64_32 on an instruction that is not a call (code 0x${x.code.toString(16)} src ${x.src})`);
    if (target.section === null) {
      const kfunc = this.index.kfuncByName.get(target.name) ?? this.fail(`call of extern ${target.name}, which is not a FUNC in the .ksyms DATASEC`);
      insns[at] = { ...x, src: BPF_PSEUDO_KFUNC_CALL, imm: kfunc };
      this.relocations.push({ kind: 'kfunc', insn: at, kfunc });
      return;
    }
    if (!this.index.codeSections.has(target.section)) this.fail(`call of ${target.name} in non-code section ${target.section}`);
    // libbpf: the callee instruction is st_value/8 + imm + 1 in the target section; place its function
    const calleeInsn = (target.type === 'section' ? 0 : target.value / 8) + x.imm + 1;
    const callee = this.index.elf.symbols.find((s) => s.type === 'func' && s.section === target.section && s.value / 8 <= calleeInsn && calleeInsn < (s.value + s.size) / 8)
      ?? this.fail(`call into ${target.section} at instruction ${calleeInsn}, which no function symbol covers`);
    const calleeStart = this.place(callee) + calleeInsn - callee.value / 8;
    insns[at] = { ...(insns[at] as Insn), imm: calleeStart - at - 1 };
    this.relocations.push({ kind: 'subprog', insn: at, target: calleeStart, name: callee.name });
  }

  /** CO-RE: the only kind these objects carry is TYPE_ID_LOCAL (bpf_obj_new's local type id), resolved to itself */
  private coreRelocate(at: number, secName: string, c: CoreRelo): void {
    if (c.kind !== 'TYPE_ID_LOCAL') throw new ObjectFormatError('.BTF.ext', 0, `CO-RE relocation ${c.kind} at ${secName}+${c.insnOff} is not supported (only TYPE_ID_LOCAL)`);
    const x = this.insns[at] as Insn;
    if (x.code !== LD_IMM64) throw new ObjectFormatError('.BTF.ext', 0, `CO-RE TYPE_ID_LOCAL at ${secName}+${c.insnOff} is not on an ld_imm64`);
    this.insns[at] = { ...x, imm: c.typeId };
    this.insns[at + 1] = { ...(this.insns[at + 1] as Insn), imm: 0 };
    this.relocations.push({ kind: 'type_id_local', insn: at, typeId: c.typeId });
  }
}
