import type { CoreRelo } from '../../bpf/btf/btfExt.ts';
import type { Btf } from '../../bpf/btf/kinds.ts';
import { skipModifiers } from '../../bpf/btf/skipModifiers.ts';
import { isKernelStruct, KERNEL_STRUCTS } from '../vmlinux/kernelStructs.ts';
import { decodeInsnWords, LD_IMM64 } from '../../bpf/asm/insn.ts';
import { BPF_CALL, BPF_JMP, BPF_LDX, BPF_ST, BPF_STX, BPF_PSEUDO_CALL, BPF_PSEUDO_KFUNC_CALL, BPF_PSEUDO_MAP_FD, BPF_PSEUDO_MAP_VALUE } from '../../bpf/asm/opcode.ts';
import { relocationType, type ElfFile, type ElfRelocationSection, type ElfSectionHeader, type ElfSymbolEntry } from '../../bpf/elf/readElf.ts';
import { R_BPF } from '../../bpf/elf/elfAbi.ts';
import { ObjectFormatError } from '../../bpf/ObjectFormatError.ts';
import type { ProgramSpec, Relocation } from './objectSpec.ts';
import { programSection, type ProgramSection } from './programSection.ts';

const CALL = BPF_JMP | BPF_CALL;

/** Lookups every program's relocation needs, built once per object (objects hold hundreds of programs). */
export interface ObjectIndex {
  readonly elf: ElfFile;
  /** the program BTF (CO-RE relocations name its types) */
  readonly btf: Btf;
  /** executable sections by name */
  readonly codeSections: ReadonlyMap<string, ElfSectionHeader>;
  /** slot words of each code section (bpf/asm insn.ts decodeInsnWords), on first use */
  readonly code: Map<string, Int32Array>;
  /**
   * what libbpf makes of each program section name, on first use (hundreds of programs share a few sections); fields
   * of the index, not WeakMaps keyed by it: an ephemeron kept each object's tables alive past young-generation GCs
   */
  readonly sectionKinds: Map<string, ProgramSection | null>;
  /** function symbols of each code section (subprogram calls look their callee up), made on first use */
  functions: Map<string, ElfSymbolEntry[]> | null;
  /** per code section with relocations or CO-RE relocations: what applies to each instruction */
  readonly fixups: ReadonlyMap<string, SectionFixups>;
  /** per code section: BTF FUNC id by the function's byte offset (func_info) */
  readonly funcInfo: ReadonlyMap<string, ReadonlyMap<number, number>>;
  /** user maps by name, internal maps by section */
  readonly mapByName: ReadonlyMap<string, number>;
  readonly mapBySection: ReadonlyMap<string, number>;
  /** kfunc externs by name → index in BpfObjectSpec.kfuncs */
  readonly kfuncByName: ReadonlyMap<string, number>;
  /**
   * per symbol: 1 + the map or kfunc index it names once looked up (0: not yet), as relocations against it find it:
   * an extern's kfunc, a .maps variable's map, another section's internal map (thousands of relocations name a few
   * symbols)
   */
  readonly symbolTargets: Int32Array;
}

/**
 * A code section's relocations and CO-RE relocations, indexed by instruction slot: typed arrays, as every placed
 * instruction is looked up (a Map per section was a large share of linking)
 */
export interface SectionFixups {
  /** the REL section (null when there is none) */
  readonly rel: ElfRelocationSection | null;
  /** per instruction slot: 1 + the index of its entry (the last one when several name it), 0 for none */
  readonly relByInsn: Int32Array;
  readonly core: readonly CoreRelo[];
  /** per instruction slot: 1 + the index of its CO-RE relocation (the last one when several name it), 0 for none */
  readonly coreByInsn: Int32Array;
}

function sectionKind(index: ObjectIndex, section: string): ProgramSection | null {
  let k = index.sectionKinds.get(section);
  if (k === undefined) index.sectionKinds.set(section, (k = programSection(section)));
  return k;
}

function functionsOf(index: ObjectIndex, section: string): readonly ElfSymbolEntry[] {
  let m = index.functions;
  if (!m) {
    index.functions = m = new Map();
    for (const s of index.elf.symbols) {
      if (s.type !== 'func' || s.section === null) continue;
      let l = m.get(s.section);
      if (!l) m.set(s.section, (l = []));
      l.push(s);
    }
  }
  return m.get(section) ?? [];
}

/**
 * Linked programs' slot words are cut from shared chunks: an ArrayBuffer per program was a large share of a load's
 * time and of GC (objects hold hundreds of programs).
 */
const CHUNK_WORDS = 1 << 15;
let chunk = new Int32Array(0);
let chunkUsed = 0;

function wordsFor(n: number): Int32Array {
  if (chunkUsed + n > chunk.length) {
    chunk = new Int32Array(Math.max(n, CHUNK_WORDS));
    chunkUsed = 0;
  }
  const out = chunk.subarray(chunkUsed, chunkUsed + n);
  chunkUsed += n;
  return out;
}

/** relocations in instruction order: they come in that order unless a subprogram was placed (sorting copies) */
function byInsn(relocations: Relocation[]): Relocation[] {
  for (let i = 1; i < relocations.length; i++) {
    if ((relocations[i] as Relocation).insn < (relocations[i - 1] as Relocation).insn) return relocations.sort((a, b) => a.insn - b.insn);
  }
  return relocations;
}

/** where a program is linked before its words are copied out at their final size */
let scratch = new Int32Array(1 << 12);

/**
 * One program as libbpf links it (bpf_object__relocate): its function's instructions, the subprograms it calls
 * appended after it (bpf_object__reloc_code), then every relocation applied (bpf_object__relocate_data) and
 * CO-RE TYPE_ID_LOCAL and FIELD_BYTE_OFFSET resolved (bpf_core_apply_relo).
 */
export class ProgramLinker {
  /** slots linked so far (their words in `scratch`) */
  private length = 0;
  private readonly relocations: Relocation[] = [];
  private readonly subprograms: { name: string; insn: number }[] = [];
  /** pairs (symbol index, the slot where its code starts): the program and the few subprograms it calls, no Map per program */
  private readonly placed: number[] = [];

  private constructor(
    private readonly index: ObjectIndex,
    private readonly main: ElfSymbolEntry,
  ) {}

  /** @throws ObjectFormatError naming the section and byte offset of what cannot be linked */
  static link(index: ObjectIndex, main: ElfSymbolEntry): ProgramSpec {
    const section = main.section as string;
    const ps = sectionKind(index, section);
    if (!ps) throw new ObjectFormatError(section, main.value, `program ${main.name}: libbpf knows no program type for section name '${section}'`);
    if (main.bind === 'local') throw new ObjectFormatError(section, main.value, `program ${main.name} is static (libbpf: not supported)`);
    const l = new ProgramLinker(index, main);
    l.place(main);
    const words = wordsFor(2 * l.length);
    // a loop, not set(subarray()): a typed array made per copy cost more than copying a program's few hundred words
    for (let i = 0; i < words.length; i++) words[i] = scratch[i] as number;
    return {
      name: main.name, section, progType: ps.progType, attachType: ps.attachType, attachTo: ps.attachTo, sleepable: ps.sleepable, autoload: ps.autoload,
      words, subprograms: l.subprograms, relocations: byInsn(l.relocations), btfFuncId: index.funcInfo.get(section)?.get(main.value) ?? null,
    };
  }

  private sectionWords(name: string): Int32Array {
    let c = this.index.code.get(name);
    if (!c) {
      const s = this.index.codeSections.get(name);
      this.index.code.set(name, (c = s ? decodeInsnWords(s.bytes, name) : new Int32Array(0)));
    }
    return c;
  }

  /** code, src_reg and imm of linked slot `at` */
  private code(at: number): number {
    return (scratch[2 * at] as number) & 0xff;
  }

  private src(at: number): number {
    return ((scratch[2 * at] as number) >>> 12) & 0xf;
  }

  private imm(at: number): number {
    return scratch[2 * at + 1] as number;
  }

  private setImm(at: number, imm: number): void {
    scratch[2 * at + 1] = imm;
  }

  private setSrcImm(at: number, src: number, imm: number): void {
    scratch[2 * at] = ((scratch[2 * at] as number) & ~0xf000) | (src << 12);
    scratch[2 * at + 1] = imm;
  }

  /** appends a function's code (once) and relocates it; returns where it starts */
  private place(sym: ElfSymbolEntry): number {
    for (let k = 0; k < this.placed.length; k += 2) if (this.placed[k] === sym.index) return this.placed[k + 1] as number;
    const secName = sym.section as string;
    const all = this.sectionWords(secName);
    const first = sym.value / 8;
    const count = sym.size / 8;
    if (!Number.isInteger(first) || !Number.isInteger(count) || first + count > all.length / 2 || count === 0) {
      throw new ObjectFormatError(secName, sym.value, `function ${sym.name} (${sym.size} bytes at ${sym.value}) is not whole instructions inside the section`);
    }
    const start = this.length;
    this.placed.push(sym.index, start);
    if (sym !== this.main) this.subprograms.push({ name: sym.name, insn: start });
    if (2 * (start + count) > scratch.length) {
      const grown = new Int32Array(Math.max(2 * (start + count), 2 * scratch.length));
      grown.set(scratch.subarray(0, 2 * start));
      scratch = grown;
    }
    for (let i = 2 * first, to = 2 * start, end = 2 * (first + count); i < end; i++, to++) scratch[to] = all[i] as number;
    this.length = start + count;
    const f = this.index.fixups.get(secName);
    if (!f) return start;
    for (let idx = 0; idx < count; idx++) {
      const r = f.relByInsn[first + idx] as number;
      if (r > 0) this.relocate(start + idx, secName, f.rel as ElfRelocationSection, r - 1);
      const c = f.coreByInsn[first + idx] as number;
      if (c > 0) this.coreRelocate(start + idx, secName, f.core[c - 1] as CoreRelo);
    }
    return start;
  }

  /** the relocation being applied, for errors (no closure or object per relocation: they are many) */
  private whereRel = '';
  private whereK = 0;
  private whereSec = '';
  private whereOffset = 0;

  private fail(what: string): never {
    throw new ObjectFormatError(this.whereRel, this.whereK * 16, `${what} (relocation at ${this.whereSec}+${this.whereOffset})`);
  }

  /** `table`'s entry for `key`, which symbol `symbol` names; remembered per symbol (each symbol has one key) */
  private targetOf(symbol: number, table: ReadonlyMap<string, number>, key: string): number | undefined {
    const known = this.index.symbolTargets[symbol] as number;
    if (known > 0) return known - 1;
    const t = table.get(key);
    if (t !== undefined) this.index.symbolTargets[symbol] = t + 1;
    return t;
  }

  private relocate(at: number, secName: string, rel: ElfRelocationSection, k: number): void {
    this.whereRel = rel.name;
    this.whereK = k;
    this.whereSec = secName;
    this.whereOffset = rel.offsets[k] as number;
    const symbol = rel.symbols[k] as number;
    const type = rel.types[k] as number;
    const target = this.index.elf.symbols[symbol] ?? this.fail(`symbol #${symbol} does not exist`);
    const code = this.code(at);
    if (type === R_BPF.R_BPF_64_64) {
      if (code !== LD_IMM64 || at + 1 >= this.length) this.fail(`R_BPF_64_64 on an instruction that is not ld_imm64 (code 0x${code.toString(16)})`);
      if (target.section === null) {
        if (target.bind !== 'weak') this.fail(`ld_imm64 of extern ${target.name}: only kfunc calls and weak externs are supported`);
        this.setImm(at, 0);
        this.setImm(at + 1, 0);
        this.relocations.push({ kind: 'unresolved_weak', insn: at, name: target.name });
        return;
      }
      if (target.section === '.maps') {
        const map = this.targetOf(symbol, this.index.mapByName, target.name) ?? this.fail(`ld_imm64 of ${target.name} in .maps, which defines no such map`);
        this.setSrcImm(at, BPF_PSEUDO_MAP_FD, map);
        this.setImm(at + 1, 0);
        this.relocations.push({ kind: 'map', insn: at, map });
        return;
      }
      const map = this.targetOf(symbol, this.index.mapBySection, target.section) ?? this.fail(`ld_imm64 of ${target.name || target.section} in section ${target.section}, which is neither .maps nor a global data section`);
      const offset = (target.type === 'section' ? 0 : target.value) + this.imm(at);
      this.setSrcImm(at, BPF_PSEUDO_MAP_VALUE, map);
      this.setImm(at + 1, offset);
      this.relocations.push({ kind: 'map_value', insn: at, map, offset });
      return;
    }
    if (type !== R_BPF.R_BPF_64_32) this.fail(`relocation type ${relocationType(type)} is not supported in code`);
    if (code !== CALL || this.src(at) !== BPF_PSEUDO_CALL) this.fail(`R_BPF_64_32 on an instruction that is not a call (code 0x${code.toString(16)} src ${this.src(at)})`);
    if (target.section === null) {
      const kfunc = this.targetOf(symbol, this.index.kfuncByName, target.name) ?? this.fail(`call of extern ${target.name}, which is not a FUNC in the .ksyms DATASEC`);
      this.setSrcImm(at, BPF_PSEUDO_KFUNC_CALL, kfunc);
      this.relocations.push({ kind: 'kfunc', insn: at, kfunc });
      return;
    }
    if (!this.index.codeSections.has(target.section)) this.fail(`call of ${target.name} in non-code section ${target.section}`);
    // libbpf: the callee instruction is st_value/8 + imm + 1 in the target section; place its function
    const calleeInsn = (target.type === 'section' ? 0 : target.value / 8) + this.imm(at) + 1;
    const callee = functionsOf(this.index, target.section).find((s) => s.value / 8 <= calleeInsn && calleeInsn < (s.value + s.size) / 8)
      ?? this.fail(`call into ${target.section} at instruction ${calleeInsn}, which no function symbol covers`);
    const calleeStart = this.place(callee) + calleeInsn - callee.value / 8;
    this.setImm(at, calleeStart - at - 1);
    this.relocations.push({ kind: 'subprog', insn: at, target: calleeStart, name: callee.name });
  }

  /**
   * CO-RE: the kinds these objects carry are TYPE_ID_LOCAL (bpf_obj_new's local type id), resolved to itself, and
   * FIELD_BYTE_OFFSET (the walk to the current cgroup), resolved against the emulated kernel's structs
   */
  private coreRelocate(at: number, secName: string, c: CoreRelo): void {
    if (c.kind === 'FIELD_BYTE_OFFSET') return this.fieldByteOffset(at, secName, c);
    if (c.kind !== 'TYPE_ID_LOCAL') throw new ObjectFormatError('.BTF.ext', 0, `CO-RE relocation ${c.kind} at ${secName}+${c.insnOff} is not supported (only TYPE_ID_LOCAL and FIELD_BYTE_OFFSET)`);
    if (this.code(at) !== LD_IMM64 || at + 1 >= this.length) throw new ObjectFormatError('.BTF.ext', 0, `CO-RE TYPE_ID_LOCAL at ${secName}+${c.insnOff} is not on an ld_imm64`);
    this.setImm(at, c.typeId);
    this.setImm(at + 1, 0);
    this.relocations.push({ kind: 'type_id_local', insn: at, typeId: c.typeId });
  }

  /**
   * A load's offset (access string "0:<member>" on a local struct) becomes the offset of the member of the same name
   * in the kernel's struct of the same name; a member the kernel lacks fails the load, as libbpf's relocation fails.
   */
  private fieldByteOffset(at: number, secName: string, c: CoreRelo): void {
    const fail = (what: string): never => {
      throw new ObjectFormatError('.BTF.ext', 0, `CO-RE FIELD_BYTE_OFFSET at ${secName}+${c.insnOff}: ${what}`);
    };
    const local = this.index.btf.types[skipModifiers(this.index.btf, c.typeId)];
    const access = c.accessStr.split(':').map(Number);
    if (local?.kind !== 'STRUCT' || access.length !== 2 || access[0] !== 0) return fail(`access ${c.accessStr} on [${c.typeId}] is not a member of a struct`);
    const member = local.members[access[1]!] ?? fail(`struct ${local.name} has no member ${access[1]}`);
    const field = isKernelStruct(local.name) ? KERNEL_STRUCTS[local.name].fields.find((f) => f.name === member.name) : undefined;
    if (field === undefined) return fail(`the kernel has no ${local.name}.${member.name}`);
    if (![BPF_LDX, BPF_STX, BPF_ST].includes(this.code(at) & 0x07)) fail('not on a load or store');
    scratch[2 * at] = ((scratch[2 * at] as number) & 0xffff) | (field.off << 16);
    this.relocations.push({ kind: 'field_byte_offset', insn: at, struct: local.name, field: field.name });
  }
}
