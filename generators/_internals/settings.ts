import type fc from 'fast-check';
import type { ProgType } from '../../types/index.ts';
import type { KptrHomeConstraints } from '../kptrHome.ts';
import { ALL_PROG_TYPES } from '../progType.ts';
import type { ScenarioSettings } from './scenarioPlan.ts';

/** The options every scenario builder shares. */
export interface ScenarioShapeConstraints {
  /** @defaultValue all four (`tc`, `syscall`, `fentry`, `fentry.s`) */
  readonly progTypes?: readonly ProgType[];
  /** Where slots may live. @defaultValue every map type and both global sections */
  readonly homes?: KptrHomeConstraints;
  /** @defaultValue 3 */
  readonly maxPrograms?: number;
  /** Userspace map operations (types/mapOp.ts) in a schedule: half the scenarios with a map-home slot get 1..N. @defaultValue 4 */
  readonly maxMapOps?: number;
  /** Budget of chosen ops per program; closing ops (drops, unlocks) come on top. @defaultValue 24 */
  readonly maxOps?: number;
  /** Possible CPUs of the target (per_cpu_ptr constants and schedule CPUs stay below it). @defaultValue 2 */
  readonly nrCpus?: number;
  /** fast-check size of the program list and of each program's choice list. @defaultValue fast-check's baseSize */
  readonly size?: fc.SizeForArbitrary;
  /**
   * About 1 scenario in `historyFreq` ends its schedule with a history tail: an RCU grace period, then one program run
   * twice on one CPU, so that what it allocates may be what an earlier run dropped (history-dependent bugs such as
   * percpu_obj_new_uncleared). A grace period costs the harness two synchronize_rcu() (16–35 ms on the host), so the
   * tail is rare by default. 0: never. @defaultValue 128
   */
  readonly historyFreq?: number;
  /**
   * About 1 scenario in `freeMapsFreq` whose slots all live in maps ends by freeing its maps with their objects (a
   * `free_maps` step, which only the VM runner executes: the host runner skips such scenarios). 0: never.
   * @defaultValue 0
   */
  readonly freeMapsFreq?: number;
  /**
   * About 1 scenario in `concurrentFreq` gets programs built to race on its first slot and a `concurrent` step (two
   * of them run at once on CPUs 0 and 1, between two runs of a reader), which only the VM runner executes as such
   * (the host runner skips such scenarios, the emulator runs the two one after the other). Needs `nrCpus` ≥ 2 and
   * tc or syscall among `progTypes`. 0: never. @defaultValue 0
   */
  readonly concurrentFreq?: number;
  /**
   * About 1 scenario in `ownerExitFreq` with a local-storage slot gets an `owner_exit` step (the owner of its storage
   * goes away, which only the VM runner executes: the host runner skips such scenarios). 0: never. @defaultValue 0
   */
  readonly ownerExitFreq?: number;
}

function positive(api: string, name: string, n: number): number {
  if (!Number.isInteger(n) || n < 1) throw new Error(`${api}: ${name} must be a positive integer, got ${n}`);
  return n;
}

function nonNegative(api: string, name: string, n: number): number {
  if (!Number.isInteger(n) || n < 0) throw new Error(`${api}: ${name} must be a non-negative integer, got ${n}`);
  return n;
}

/** Fill in defaults and check arguments once (fast-check's Parameters → QualifiedParameters). */
export function resolveSettings(api: string, c: ScenarioShapeConstraints): ScenarioSettings {
  const progTypes = c.progTypes ?? ALL_PROG_TYPES;
  if (progTypes.length === 0) throw new Error(`${api}: progTypes is empty`);
  return {
    progTypes,
    homes: c.homes ?? {},
    maxPrograms: positive(api, 'maxPrograms', c.maxPrograms ?? 3),
    maxMapOps: nonNegative(api, 'maxMapOps', c.maxMapOps ?? 4),
    maxOps: positive(api, 'maxOps', c.maxOps ?? 24),
    nrCpus: positive(api, 'nrCpus', c.nrCpus ?? 2),
    size: c.size,
    historyFreq: nonNegative(api, 'historyFreq', c.historyFreq ?? 128),
    freeMapsFreq: nonNegative(api, 'freeMapsFreq', c.freeMapsFreq ?? 0),
    concurrentFreq: nonNegative(api, 'concurrentFreq', c.concurrentFreq ?? 0),
    ownerExitFreq: nonNegative(api, 'ownerExitFreq', c.ownerExitFreq ?? 0),
  };
}
