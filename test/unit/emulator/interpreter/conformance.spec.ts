import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { insnWords } from '../../../../bpf/asm/insn.ts';
import { execute, newRegs, type CallEnv } from '../../../../emulator/interpreter/execute.ts';
import { AddressSpace, MachineFault } from '../../../../emulator/memory/AddressSpace.ts';
import { parseConformanceTest } from '../../../helpers/bpfConformance.ts';

const DIR = join(import.meta.dirname, '../../../fixtures/bpf_conformance/tests');

/** The tests the machine does not run, each with the reason (the one place they are listed). */
const SKIPPED: Readonly<Record<string, string>> = {
  'call_unwind_fail.data': "calls uBPF's test helper #5 ('unwind'), which no kernel has; the machine has only the kernel's helpers",
  'callx.data': "callx (BPF_CALL | BPF_X, a register call) of uBPF's test helper #5: neither is in the kernel's ISA",
};

/** A machine with no maps, helpers or kfuncs: r1 points at the test's memory, r2 is its length (the conformance plugin ABI). */
function run(insns: Parameters<typeof insnWords>[0], memBytes: Uint8Array) {
  const mem = new AddressSpace();
  const stacks = Array.from({ length: 8 }, (_, i) => mem.add('stack', `stack frame ${i}`, 512));
  const env: CallEnv = {
    mem,
    helper: (id) => { throw new MachineFault(`helper #${id} is not available here`); },
    kfunc: () => { throw new MachineFault('no kfuncs here'); },
    ldImm64: () => { throw new MachineFault('no maps here'); },
  };
  const regs = newRegs();
  if (memBytes.length > 0) {
    regs.hi[1] = AddressSpace.hiOf(mem.add('test_mem', 'test memory', memBytes.slice()));
    regs.lo[2] = memBytes.length;
  }
  return execute(insnWords(insns), env, regs, { stacks, maxInsns: 1_000_000, scratch: new Int32Array(2), frames: [] });
}

const files = readdirSync(DIR).filter((f) => f.endsWith('.data')).sort();

describe('bpf_conformance ISA tests on the emulator interpreter', () => {
  it('should have the vendored test data (313 files) and run all but the listed ones', () => {
    expect(files.length).toBe(313);
    expect(Object.keys(SKIPPED).length).toBe(2);
    expect(Object.keys(SKIPPED).every((f) => files.includes(f))).toBe(true);
  });

  for (const file of files) {
    const skip = SKIPPED[file];
    it.skipIf(skip !== undefined)(`${file}${skip ? ` (skipped: ${skip})` : ''}`, () => {
      const t = parseConformanceTest(file, readFileSync(join(DIR, file), 'utf8'));
      const r = run(t.insns, t.mem);
      expect(r.kind === 'exit' ? BigInt.asUintN(64, (BigInt(r.hi >>> 0) << 32n) | BigInt(r.lo >>> 0)) : r).toEqual(t.result);
    });
  }
});
