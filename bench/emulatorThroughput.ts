import { loadObject, Machine } from '../emulator/index.ts';
import { packBatches } from '../runners/codegen/packBatches.ts';
import { writeObject } from '../runners/object/writeObject.ts';
import type { Scenario } from '../types/index.ts';

export interface EmulatorThroughput {
  /** objects written by the direct writer (not timed) */
  readonly objects: number;
  /** loadObject + Machine.load + every schedule step of every scenario, ms */
  readonly ms: number;
  readonly runs: number;
  readonly faults: number;
}

/**
 * The emulator's share of a campaign: each batch's object (direct writer, written beforehand) loaded and every
 * scenario's schedule run on it, as the harness would, every program included (the emulator has no verifier yet,
 * so programs a kernel would refuse run too; their faults are counted).
 */
export function emulatorThroughput(scenarios: readonly Scenario[], nrCpus: number, maxPerBatch: number): EmulatorThroughput {
  const objects = packBatches(scenarios, maxPerBatch).map((b) => ({ scenarios: b, bytes: writeObject(b) }));
  let runs = 0, faults = 0;
  const t0 = process.hrtime.bigint();
  for (const o of objects) {
    const m = Machine.load(loadObject(o.bytes, { rodata: { nr_cpus: nrCpus } }), { nrCpus });
    for (const s of o.scenarios) {
      const names = s.globals.map((g) => g.name);
      for (const step of s.schedule) {
        for (let i = 0; i < step.repeat; i++) {
          if (m.run(step.program, Math.min(step.cpu, nrCpus - 1)).outcome === 'fault') faults++;
          runs++;
          m.globals(names);
        }
      }
    }
    m.free();
  }
  return { objects: objects.length, ms: Number(process.hrtime.bigint() - t0) / 1e6, runs, faults };
}
