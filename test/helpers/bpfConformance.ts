import { assemble } from '../../bpf/asm/assemble.ts';
import type { Insn } from '../../bpf/asm/insn.ts';

/**
 * The bpf_conformance test file format (github Alan-Jowett/bpf_conformance, lib/src/bpf_test_parser.cc), for the
 * emulator's ISA tests; its `-- asm` text goes through bpf/asm's assembler.
 */
export interface ConformanceTest {
  readonly name: string;
  readonly insns: readonly Insn[];
  /** the `-- mem` bytes (r1 points at them, r2 is their length) */
  readonly mem: Uint8Array;
  /** the `-- result`: r0 after exit, unsigned */
  readonly result: bigint;
}

/** A `.data` file: `# comments`, `-- asm`, `-- raw`, `-- mem`, `-- result`; other sections ignored, as the reference does. */
export function parseConformanceTest(name: string, text: string): ConformanceTest {
  const sections: Record<string, string[]> = {};
  let current = 'ignore';
  for (const raw of text.split('\n')) {
    const line = raw.replace(/\r$/, '').replace(/#.*/, '');
    if (line.includes('--')) {
      const m = /--\s*(asm|result|mem|raw|error)\b/.exec(line);
      current = m ? (m[1] as string) : 'ignore';
      continue;
    }
    if (line.trim() !== '') (sections[current] ??= []).push(line);
  }
  const raw = sections.raw;
  const insns = raw
    ? raw.join(' ').trim().split(/\s+/).map((w) => {
        const v = BigInt.asUintN(64, BigInt(w));
        return {
          code: Number(v & 0xffn),
          dst: Number((v >> 8n) & 0xfn),
          src: Number((v >> 12n) & 0xfn),
          off: Number(BigInt.asIntN(16, (v >> 16n) & 0xffffn)),
          imm: Number(BigInt.asIntN(32, v >> 32n)),
        };
      })
    : assemble((sections.asm ?? []).join('\n'));
  const memWords = (sections.mem ?? []).join(' ').trim().split(/\s+/).filter((w) => w !== '');
  const result = (sections.result ?? ['0'])[0]?.trim() ?? '0';
  return {
    name,
    insns,
    mem: Uint8Array.from(memWords.map((w) => parseInt(w, 16))),
    result: BigInt.asUintN(64, BigInt(result)),
  };
}
