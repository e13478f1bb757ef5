import type { RunCase } from '../../runners/runner.ts';
import type { KptrHome, Op, Scenario, VarDecl } from '../../types/index.ts';
import { isLocalStorage } from '../../types/index.ts';

/** 8 + 63 × 8 bytes: the largest struct bpf_percpu_obj_new takes (BPF_GLOBAL_PERCPU_MA_MAX_SIZE, 512). */
const BIG_MEMBERS = [
  { kind: 'scalar', name: 'c', ctype: 'long', count: null },
  { kind: 'scalar', name: 'pad', ctype: 'long', count: 63 },
] as const;

/**
 * The memory oracle's control: one program puts a fresh 512-byte per-CPU object into each of `slots` slots (dropping
 * what a slot held), then what holds them is freed: the array maps (free_maps), or for local storage the owner
 * (owner_exit; task storage from a syscall program, which every kernel gives bpf_task_storage_get, cgroup storage from
 * a tc one, whose cgroup is trusted). A pass holds slots × 512 bytes on
 * every CPU until then: a kernel (or a runner) that keeps them grows by that much a pass.
 */
export function heldObjects(id: string, slots = 8, home: KptrHome = { kind: 'map', mapType: 'array' }): Scenario {
  const t = `${id}_t`;
  const names = Array.from({ length: slots }, (_, i) => `${id}_m${i}`);
  const vars: VarDecl[] = names.flatMap((slot, i) => [
    { name: `e${i}`, type: { kind: 'map_value', slot } },
    { name: `p${i}`, type: { kind: 'percpu', struct: t } },
    { name: `o${i}`, type: { kind: 'percpu', struct: t } },
  ]);
  const ops: Op[] = names.flatMap((slot, i): Op[] => [
    { op: 'lookup', slot, dst: `e${i}` },
    { op: 'new', dst: `p${i}`, struct: t, percpu: true },
    { op: 'if', var: `p${i}`, is: 'null', then: [{ op: 'return', value: 0 }] },
    { op: 'xchg', slot, src: `p${i}`, dst: `o${i}` },
    { op: 'if', var: `o${i}`, is: 'nonnull', then: [{ op: 'drop', var: `o${i}`, percpu: true }] },
  ]);
  return {
    id,
    description: `${slots} ${home.kind === 'map' ? `${home.mapType} maps` : home.kind} slots each holding a 512-byte per-CPU object, then freed`,
    origin: null,
    intent: { kind: 'valid' },
    structs: [{ name: t, members: [...BIG_MEMBERS] }],
    slots: names.map((name) => ({ name, home, pointee: t, tag: 'percpu_kptr' })),
    globals: [],
    programs: [{ name: `${id}_put`, progType: home.kind === 'task_storage' ? 'syscall' : 'tc', license: 'GPL', vars, ops: [...ops, { op: 'return', value: 1 }] }],
    schedule: [{ program: `${id}_put`, cpu: 0, repeat: 1 }, isLocalStorage(home) ? { owner_exit: true } : { free_maps: true }],
  };
}

/** A VM run case that executes every step of `scenario` and expects every program accepted. */
export function runCase(scenario: Scenario): RunCase {
  return {
    scenario,
    plan: { scenarioId: scenario.id, expectedAccepted: scenario.programs.map((p) => p.name), wellFormed: true, execute: true, expectSplat: false, corruptsKernel: false },
  };
}
