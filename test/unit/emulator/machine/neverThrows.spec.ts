import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { Insn } from '../../../../bpf/asm/insn.ts';
import { loadObject, Machine, type BpfObjectSpec } from '../../../../emulator/index.ts';
import { writeObject } from '../../../../compile/object/writeObject.ts';
import { percpuAllocArray } from '../../compile/codegen/percpuAllocArray.fixture.ts';

/** Opcodes of every class (ALU/ALU64 ops, jumps, loads, stores, atomics, ld_imm64, call, exit) and some invalid ones. */
const OPCODES = [
  0x04, 0x07, 0x0c, 0x0f, 0x14, 0x17, 0x24, 0x27, 0x2f, 0x34, 0x37, 0x3f, 0x44, 0x47, 0x54, 0x57, 0x64, 0x67, 0x6f,
  0x74, 0x77, 0x7f, 0x84, 0x87, 0x94, 0x97, 0x9f, 0xa4, 0xa7, 0xb4, 0xb7, 0xbc, 0xbf, 0xc4, 0xc7, 0xcf, 0xd4, 0xd7, 0xdc,
  0x05, 0x06, 0x15, 0x16, 0x1d, 0x25, 0x2d, 0x35, 0x3e, 0x45, 0x55, 0x5d, 0x65, 0x6d, 0x75, 0xa5, 0xad, 0xb5, 0xc5, 0xc6, 0xd5,
  0x61, 0x69, 0x71, 0x79, 0x81, 0x89, 0x91, 0x62, 0x6a, 0x72, 0x7a, 0x63, 0x6b, 0x73, 0x7b, 0xc3, 0xdb,
  0x18, 0x85, 0x95, 0x00, 0x20, 0x8d, 0xff,
];

const insn: fc.Arbitrary<Insn> = fc.record({
  code: fc.oneof({ weight: 9, arbitrary: fc.constantFrom(...OPCODES) }, { weight: 1, arbitrary: fc.integer({ min: 0, max: 255 }) }),
  dst: fc.integer({ min: 0, max: 10 }),
  src: fc.oneof(fc.integer({ min: 0, max: 10 }), fc.integer({ min: 0, max: 15 })),
  off: fc.oneof(fc.integer({ min: -4, max: 4 }), fc.integer({ min: -32768, max: 32767 }), fc.constantFrom(1, 8, 16, 32, -8, -16)),
  imm: fc.oneof(fc.integer({ min: -2, max: 200 }), fc.integer(), fc.constantFrom(1, 2, 3, 8, 153, 154, 194, 16, 32, 64, 0xe1, 0xf1)),
});

describe('Machine on arbitrary instructions', () => {
  const spec = loadObject(writeObject([percpuAllocArray]), { rodata: { nr_cpus: 2 } });
  it('should end every run in an exit or an Oops, never an exception, and free its maps without one', () => {
    fc.assert(
      fc.property(fc.array(insn, { minLength: 1, maxLength: 40 }), fc.array(fc.integer({ min: 0, max: 1 }), { minLength: 1, maxLength: 3 }), (body, cpus) => {
        const program = { ...spec.programs[0]!, insns: [...body, { code: 0x95, dst: 0, src: 0, off: 0, imm: 0 }] };
        const object: BpfObjectSpec = { ...spec, programs: [program, ...spec.programs.slice(1)] };
        const m = Machine.load(object, { nrCpus: 2, maxInsns: 10_000 });
        for (const cpu of cpus) {
          // the real programs too, so kptrs, objects and map values exist for the random one to meet
          m.run('test_array_map_2', cpu);
          const r = m.run(program.name, cpu);
          expect(['exit', 'fault']).toContain(r.outcome);
        }
        expect(Array.isArray(m.free())).toBe(true);
      }),
      { seed: 12, numRuns: 3000 },
    );
  });
});
