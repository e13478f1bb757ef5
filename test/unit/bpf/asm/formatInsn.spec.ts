import { describe, expect, it } from 'vitest';
import { formatInsn, formatInsns, funcIdName } from '../../../../bpf/asm/formatInsn.ts';
import { I } from '../../../../bpf/asm/I.ts';
import { decodeInsns, type Insn } from '../../../../bpf/asm/insn.ts';
import { BPF_PSEUDO_KFUNC_CALL } from '../../../../bpf/asm/opcode.ts';
import { R0, R1, R2, R10 } from '../../../../bpf/asm/register.ts';
import { readElf, relocationEntries, type ElfFile } from '../../../../bpf/elf/readElf.ts';
import { FIXTURES, INSN_ONLY_FIXTURES, KERNEL, fixtureBytes, fixtureText } from '../fixtures.ts';

/** The instruction lines of each program's verifier log (`N: (xx) text`), by program name. */
function logLines(object: string): Map<string, Map<number, string>> {
  const out = new Map<string, Map<number, string>>();
  let current = new Map<number, string>();
  for (const line of fixtureText(`${object}.verifier-${KERNEL}.log`).split('\n')) {
    const head = /^== \S+ (\S+) load=/.exec(line);
    if (head) out.set(head[1]!, (current = new Map()));
    const insn = /^(\d+): (\([0-9a-f]{2}\) [^;]*?)\s*(;.*)?$/.exec(line);
    if (insn) current.set(Number(insn[1]), insn[2]!);
  }
  return out;
}

/**
 * A program's instructions as the kernel sees them: its slots, then .text (libbpf appends the subprograms), with each
 * relocated call marked a kfunc call (src_reg 2) the way libbpf rewrites it, named after its symbol. Which numbers a
 * relocation fills in (map addresses, BTF ids, call offsets) depends on the kernel, so `relocated` lists those slots.
 */
function loadedProgram(elf: ElfFile, name: string): { insns: Insn[]; relocated: Set<number>; names: Map<number, string> } {
  const sym = elf.symbols.find((s) => s.name === name && s.type === 'func')!;
  const section = elf.sections[sym.sectionIndex]!;
  const text = elf.sections.find((s) => s.name === '.text');
  const own = decodeInsns(section.bytes.subarray(sym.value, sym.value + sym.size), section.name);
  const insns = [...own, ...(text ? decodeInsns(text.bytes, '.text') : [])];
  const relocated = new Set<number>();
  const names = new Map<number, string>();
  for (const rel of elf.relocations) {
    const base = rel.target === section.name ? -sym.value / 8 : rel.target === '.text' ? own.length : null;
    if (base === null) continue;
    for (const e of relocationEntries(rel)) {
      const i = base + e.offset / 8;
      if (i < 0 || i >= insns.length) continue;
      relocated.add(i);
      const target = elf.symbols[e.symbol]!;
      if (target.section === null) {
        insns[i] = { ...insns[i]!, src: BPF_PSEUDO_KFUNC_CALL };
        names.set(i, target.name);
      }
    }
  }
  return { insns, relocated, names };
}

const maskRelocated = (s: string): string => s.replace(/0x[0-9a-f]+/g, '0x?').replace(/#-?\d+/g, '#?').replace(/pc[+-]\d+/g, 'pc?');

describe('formatInsn', () => {
  it.each([...FIXTURES, ...INSN_ONLY_FIXTURES])(`should print every instruction of %s as the ${KERNEL} verifier log does`, (object) => {
    const elf = readElf(fixtureBytes(object));
    const logs = logLines(object);
    expect(logs.size).toBeGreaterThan(0);
    let compared = 0;
    for (const [prog, lines] of logs) {
      const { insns, relocated, names } = loadedProgram(elf, prog);
      for (const [i, kernel] of lines) {
        const ours = formatInsn(insns[i]!, insns[i + 1] ?? null, { callName: (x) => (x.src === BPF_PSEUDO_KFUNC_CALL ? (names.get(i) ?? null) : null) });
        if (relocated.has(i)) expect(maskRelocated(ours), `${prog} insn ${i}`).toBe(maskRelocated(kernel));
        else expect(ours, `${prog} insn ${i}`).toBe(kernel);
        compared++;
      }
    }
    expect(compared).toBeGreaterThan(0);
  });

  it('should print what the verifier prints for kfuncs, BPF-to-BPF calls and unknown helpers', () => {
    expect(formatInsn({ ...I.callExtern(), src: BPF_PSEUDO_KFUNC_CALL, imm: 65257 }, null, { callName: () => 'bpf_percpu_obj_new_impl' })).toBe('(85) call bpf_percpu_obj_new_impl#65257');
    expect(formatInsn({ ...I.callExtern(), src: BPF_PSEUDO_KFUNC_CALL, imm: 7 })).toBe('(85) call kernel-function#7');
    expect(formatInsn({ ...I.callExtern(), imm: 3 })).toBe('(85) call pc+3');
    expect(formatInsn(I.call(100_000))).toBe('(85) call unknown#100000');
    expect([funcIdName(1), funcIdName(194), funcIdName(153), funcIdName(154), funcIdName(8), funcIdName(0)]).toEqual([
      'bpf_map_lookup_elem', 'bpf_kptr_xchg', 'bpf_per_cpu_ptr', 'bpf_this_cpu_ptr', 'bpf_get_smp_processor_id', 'bpf_unspec',
    ]);
  });

  it('should print ld_imm64 values in full, zeroed for map addresses when pointers must not leak', () => {
    const [a, b] = I.ldImm64(R1, 0xffff_8881_9e46_6800n);
    expect(formatInsn(a, b)).toBe('(18) r1 = 0xffff88819e466800');
    expect(formatInsn({ ...a, src: 1 }, b, { allowPtrLeaks: false })).toBe('(18) r1 = 0x0');
    expect(formatInsn({ ...a, src: 1 }, b, { imm: () => 'map[id:4]' })).toBe('(18) r1 = map[id:4]');
  });

  it('should number lines as the verifier does, one line and two indices per ld_imm64', () => {
    expect(formatInsns([I.mov64Imm(R2, 0), ...I.ldImm64(R1, 0x2cn), I.stx(4, R10, -4, R1), I.mov32Imm(R0, 0), I.exit()])).toEqual([
      '0: (b7) r2 = 0', '1: (18) r1 = 0x2c', '3: (63) *(u32 *)(r10 -4) = r1', '4: (b4) w0 = 0', '5: (95) exit',
    ]);
  });
});
