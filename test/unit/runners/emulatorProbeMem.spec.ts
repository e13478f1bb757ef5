/**
 * A load through an untrusted pointer is BPF_PROBE_MEM in the kernel (convert_ctx_accesses): a fault reads 0, never
 * an Oops. A sleepable program that loads a __percpu_kptr without the RCU lock gets an untrusted pointer without
 * MEM_PERCPU and may read the object's fields through the per-CPU address itself (specs/rules/percpu.direct_deref.yaml).
 * Found as the one emulator gap of a 42,011-case break campaign on 7.3.4 (seed 20261203, case 29623): the kernel ran
 * the reading program and read some word; the emulator faulted on the per-CPU handle and ran nothing after it.
 */
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { createEmulatorRunner } from '../../../runners/emulator/index.ts';
import type { Scenario } from '../../../types/index.ts';

/** both programs hold the slot's map value and an object of it */
const VARS: Scenario['programs'][number]['vars'] = [
  { name: 'e', type: { kind: 'map_value', slot: 'upm_slot' } },
  { name: 'p', type: { kind: 'percpu', struct: 'upm_t' } },
];

const scenario: Scenario = {
  id: 'upm',
  description: 'a syscall program reads a field through an untrusted per-CPU kptr it loaded without the RCU lock',
  origin: null,
  intent: { kind: 'valid' },
  structs: [{ name: 'upm_t', members: [{ kind: 'scalar', name: 'a', ctype: 'long', count: null }] }],
  slots: [{ name: 'upm_slot', home: { kind: 'global', section: 'data' }, pointee: 'upm_t', tag: 'percpu_kptr' }],
  globals: [{ name: 'upm_seen', ctype: '__u64' }],
  programs: [
    {
      name: 'upm_store',
      progType: 'tc',
      license: 'GPL',
      vars: VARS,
      ops: [
        { op: 'lookup', slot: 'upm_slot', dst: 'e' },
        { op: 'new', dst: 'p', struct: 'upm_t', percpu: true },
        { op: 'if', var: 'p', is: 'null', then: [{ op: 'return', value: 0 }] },
        { op: 'xchg', slot: 'upm_slot', src: 'p', dst: 'p' },
        { op: 'if', var: 'p', is: 'nonnull', then: [{ op: 'drop', var: 'p', percpu: true }] },
      ],
    },
    {
      name: 'upm_peek',
      progType: 'syscall',
      license: 'GPL',
      vars: VARS,
      ops: [
        { op: 'lookup', slot: 'upm_slot', dst: 'e' },
        { op: 'load', slot: 'upm_slot', dst: 'p' },
        { op: 'if', var: 'p', is: 'null', then: [{ op: 'return', value: 0 }] },
        { op: 'read', ptr: 'p', field: 'a', global: 'upm_seen' },
      ],
    },
  ],
  schedule: [
    { program: 'upm_store', cpu: 0, repeat: 1 },
    { program: 'upm_peek', cpu: 1, repeat: 2 },
  ],
};

describe('loads through untrusted pointers (BPF_PROBE_MEM)', () => {
  for (const kernel of ['6.12', '6.18.44', '7.3'] as const) {
    it(`should read through an untrusted per-CPU kptr without an Oops on ${kernel}`, async () => {
      const runner = createEmulatorRunner({ kernel, codegen: 'direct', workDir: join(tmpdir(), `kptr-upm-${process.pid}`) });
      const plan = { scenarioId: scenario.id, expectedAccepted: [], wellFormed: true, execute: true, expectSplat: false, corruptsKernel: false };
      const [o] = await runner.run([{ scenario, plan }]);
      expect(o!.programs.map((p) => [p.program, p.verdict])).toEqual([['upm_store', 'accepted'], ['upm_peek', 'accepted']]);
      expect(o!.splats).toEqual([]);
      // the kernel reads whatever lies at the per-CPU address, or 0 where that faults (the oracle predicts no value)
      expect(o!.runs.map((r) => [r.program, r.cpu, r.err])).toEqual([['upm_store', 0, null], ['upm_peek', 1, null], ['upm_peek', 1, null]]);
      expect(o!.runs.at(-1)!.globals.upm_seen).toBe('0');
    });
  }
});
