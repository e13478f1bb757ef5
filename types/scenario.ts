import type { MapOpStep } from './mapOp.ts';

/**
 * Scenario: one self-contained BPF test case (structs, kptr slots, programs, a run schedule).
 * Plain, serialisable data: readonly objects, unions tagged by a literal field, `null` rather than `undefined`.
 * u64 values travel as decimal strings because sums can exceed 2^53.
 */

/** C scalar types a struct member or observed global may have. */
export type ScalarCType =
  | 'char' | 'short' | 'int' | 'long'
  | '__u8' | '__u16' | '__u32' | '__u64'
  | '__s8' | '__s16' | '__s32' | '__s64';

/**
 * A struct member. `scalar`/`struct` members may be arrays (`count` > 0) or plain (`count: null`).
 * `pointer` (`char *name`) and the special members exist to build structs the kernel must refuse
 * for bpf_percpu_obj_new (rules percpu_obj_new.not_scalars / percpu_obj_new.special_fields).
 */
export type StructMember =
  | { readonly kind: 'scalar'; readonly name: string; readonly ctype: ScalarCType; readonly count: number | null }
  | { readonly kind: 'struct'; readonly name: string; readonly struct: string; readonly count: number | null }
  | { readonly kind: 'pointer'; readonly name: string }
  | { readonly kind: 'spin_lock'; readonly name: string }
  | { readonly kind: 'kptr'; readonly name: string; readonly pointee: string };

export interface StructType {
  /** C identifier, unique in the scenario (and prefixed with the scenario id in batched C files by codegen). */
  readonly name: string;
  readonly members: readonly StructMember[];
}

/** BPF map types a kptr slot may live in (value `struct { long sum; struct T __percpu_kptr *pc; }`, key 0). */
export type MapType = 'array' | 'hash' | 'lru_hash' | 'percpu_array' | 'percpu_hash' | 'lru_percpu_hash';

/**
 * Where a kptr slot lives: a map value (one element, key 0), a global variable, or the local storage of the task or
 * the cgroup a program runs in (BPF_MAP_TYPE_TASK_STORAGE / BPF_MAP_TYPE_CGRP_STORAGE, BPF_F_NO_PREALLOC: one
 * element per owner, created by the program's lookup and freed with its owner, types/scenario.ts OwnerExitStep).
 */
export type KptrHome =
  /**
   * `spinLock`: the value also holds `struct bpf_spin_lock lock;` after the kptr field, so userspace may pass
   * BPF_F_LOCK (map_check_btf admits a spin lock in array and hash values only); absent means false
   */
  | { readonly kind: 'map'; readonly mapType: MapType; readonly spinLock?: boolean }
  | { readonly kind: 'global'; readonly section: 'bss' | 'data' }
  | { readonly kind: LocalStorageKind };

/** The local-storage homes, named after their map types. */
export type LocalStorageKind = 'task_storage' | 'cgrp_storage';

/** Whether a slot lives in a map named after it, value `struct <slot>_elem` (every home but a global). */
export function inSlotMap(home: KptrHome): home is Exclude<KptrHome, { readonly kind: 'global' }> {
  return home.kind !== 'global';
}

/** Whether a slot lives in local storage (its map is keyed by an owner, not by key 0). */
export function isLocalStorage(home: KptrHome): home is { readonly kind: LocalStorageKind } {
  return home.kind === 'task_storage' || home.kind === 'cgrp_storage';
}

/** A kptr field: `struct <pointee> __percpu_kptr *` (tag percpu_kptr) or `struct <pointee> __kptr *` (tag kptr). */
export interface Slot {
  readonly name: string;
  readonly home: KptrHome;
  readonly pointee: string;
  readonly tag: 'percpu_kptr' | 'kptr';
}

export type ProgType = 'tc' | 'syscall' | 'fentry' | 'fentry.s';

/**
 * Whether programs of this type load sleepable (BPF_F_SLEEPABLE: libbpf's `fentry.s/` sections, and `syscall` programs
 * run sleepable too): they are in an RCU critical section only between bpf_rcu_read_lock/unlock (`in_rcu_cs`);
 * non-sleepable ones always are.
 */
export function isSleepable(t: ProgType): boolean {
  return t === 'syscall' || t === 'fentry.s';
}

/** The C type of a program-local variable. */
export type VarType =
  /** `struct T __percpu_kptr *` */
  | { readonly kind: 'percpu'; readonly struct: string }
  /** `struct T *` (a per-CPU element from bpf_per_cpu_ptr/bpf_this_cpu_ptr, or a bpf_obj_new object) */
  | { readonly kind: 'plain'; readonly struct: string }
  /** pointer to the map value (or global) holding `slot` */
  | { readonly kind: 'map_value'; readonly slot: string };

export interface VarDecl {
  readonly name: string;
  readonly type: VarType;
}

/**
 * One operation. Ops run in order; `if` nests. Field paths (`field`) name a scalar member of the
 * pointee struct: `c`, `arr[2]`, `inner.x`, `inner[1].y`.
 */
export type Op =
  /**
   * `dst = bpf_map_lookup_elem(&<slot map>, &zero); if (!dst) return 0;` (hash maps: insert key 0 first). For a global
   * slot: `dst = &<global>` container. For a local-storage slot: `dst = bpf_task_storage_get(&<slot map>,
   * bpf_get_current_task_btf(), 0, BPF_LOCAL_STORAGE_GET_F_CREATE)` (bpf_cgrp_storage_get of the task's
   * `cgroups->dfl_cgrp`), `if (!dst) return 0;`.
   */
  | { readonly op: 'lookup'; readonly slot: string; readonly dst: string }
  /** `dst = bpf_percpu_obj_new(struct T)` (percpu) or `dst = bpf_obj_new(struct T)` */
  | { readonly op: 'new'; readonly dst: string; readonly struct: string; readonly percpu: boolean }
  /** `if (!var) { then }` (is: null) or `if (var) { then }` (is: nonnull) */
  | { readonly op: 'if'; readonly var: string; readonly is: 'null' | 'nonnull'; readonly then: readonly Op[] }
  /** `dst = bpf_kptr_xchg(&<slot>, src)`; src null means NULL; dst null discards the result. */
  | { readonly op: 'xchg'; readonly slot: string; readonly src: string | null; readonly dst: string | null }
  /** `bpf_percpu_obj_drop(var)` (percpu) or `bpf_obj_drop(var)` */
  | { readonly op: 'drop'; readonly var: string; readonly percpu: boolean }
  /** `dst = <slot>` (plain load of the kptr field) */
  | { readonly op: 'load'; readonly slot: string; readonly dst: string }
  /** `<slot> = src` (direct store; src null stores NULL) */
  | { readonly op: 'store'; readonly slot: string; readonly src: string | null }
  /** `dst = bpf_per_cpu_ptr(src, cpu)`; cpu is a constant */
  | { readonly op: 'per_cpu_ptr'; readonly src: string; readonly cpu: number; readonly dst: string }
  /** `dst = bpf_this_cpu_ptr(src)` */
  | { readonly op: 'this_cpu_ptr'; readonly src: string; readonly dst: string }
  /** `ptr->field = value` */
  | { readonly op: 'write'; readonly ptr: string; readonly field: string; readonly value: string }
  /** `global = ptr->field` */
  | { readonly op: 'read'; readonly ptr: string; readonly field: string; readonly global: string }
  /** `bpf_for(i, 0, nr_cpus) { e = bpf_per_cpu_ptr(src, i); if (e) global += e->field; }` */
  | { readonly op: 'sum'; readonly src: string; readonly field: string; readonly global: string }
  | { readonly op: 'rcu_lock' }
  | { readonly op: 'rcu_unlock' }
  /** `return value;` (every program also ends with an implicit `return 0;`) */
  | { readonly op: 'return'; readonly value: number };

export type OpKind = Op['op'];

export interface Program {
  /** C identifier of the BPF program (unique in the scenario). */
  readonly name: string;
  readonly progType: ProgType;
  /** License string of the object; kfuncs need a GPL-compatible one. */
  readonly license: 'GPL' | 'Dual BSD/GPL' | 'Proprietary';
  readonly vars: readonly VarDecl[];
  readonly ops: readonly Op[];
}

/** A global the programs write results to (`__u64 name;` etc. in .bss); observed after each run step. */
export interface GlobalVar {
  readonly name: string;
  readonly ctype: ScalarCType;
}

/** Run `program` `repeat` times with BPF_PROG_TEST_RUN, the calling thread pinned to `cpu`. */
export interface RunStep {
  readonly program: string;
  readonly cpu: number;
  readonly repeat: number;
}

/**
 * Wait, from userspace, until an RCU grace period has ended and the callbacks queued before it have run: what
 * bpf_mem_alloc's bpf_mem_free_rcu path (bpf_percpu_obj_drop, bpf_obj_drop) waits for before a dropped object goes
 * back on a CPU's free list. Programs observe nothing; history does (which memory the next `new` gets).
 */
export interface GracePeriodStep {
  readonly grace_period: true;
}

/**
 * Free the scenario's maps while their elements hold objects (specs/ops/free_maps.yaml): the runner drops the last
 * references (its map fds, and the scenario's programs, which hold the maps they use), and the kernel's map free
 * path releases every kptr field's object. The end of the scenario's object lifetime: always the last step, and only
 * where every slot lives in a map (a global's object lives as long as the batch's shared .bss).
 */
export interface FreeMapsStep {
  readonly free_maps: true;
}

/**
 * Two program runs at the same time on two different CPUs (specs/ops/lifetime/concurrent.yaml): each `repeat` 1,
 * tc or syscall programs (a tracing program runs through the one attach point all share). The runner releases both
 * BPF_PROG_TEST_RUNs together and reads the globals once both have ended; the oracle predicts the set of outcomes
 * any interleaving of their accesses to shared state allows (Prediction.outcomes). VM only.
 */
export interface ConcurrentStep {
  readonly concurrent: readonly [RunStep, RunStep];
}

/**
 * The owner of the scenario's local storage goes away (specs/ops/lifetime/owner_exit.yaml): the runner runs a
 * scenario's programs in an owner process of its own, in a cgroup of its own; here the process exits and the cgroup
 * is removed, and the kernel frees their storage with its objects. Later runs happen in a new owner, whose storage
 * starts empty. Only in a scenario with a local-storage slot.
 */
export interface OwnerExitStep {
  readonly owner_exit: true;
}

/**
 * One step of the schedule: program runs, a grace period, a userspace map operation (types/mapOp.ts), the maps'
 * free, two runs at once, or the owner's exit.
 */
export type ScheduleStep = RunStep | GracePeriodStep | MapOpStep | FreeMapsStep | ConcurrentStep | OwnerExitStep;

/** What a schedule step does: the word coverage counts it by (summary.json `exerciseCoverage`). */
export type StepKind = 'run' | 'grace_period' | 'map_op' | 'free_maps' | 'concurrent' | 'owner_exit';

/** The steps that are neither program runs nor map operations: each has its contract in specs/ops/lifetime/. */
export type LifetimeStepKind = Exclude<StepKind, 'run' | 'map_op'>;

export function stepKind(s: ScheduleStep): StepKind {
  if ('grace_period' in s) return 'grace_period';
  if ('mapOp' in s) return 'map_op';
  if ('free_maps' in s) return 'free_maps';
  if ('concurrent' in s) return 'concurrent';
  if ('owner_exit' in s) return 'owner_exit';
  return 'run';
}

/**
 * Whether the schedule's last step frees everything the slots hold (the memory oracle's premise): the maps' free, or
 * the owner's exit where every slot lives in local storage.
 */
export function endsHoldingNothing(s: Scenario): boolean {
  const last = s.schedule.at(-1);
  if (last === undefined) return false;
  return 'free_maps' in last || ('owner_exit' in last && s.slots.every((x) => isLocalStorage(x.home)));
}

/** Whether a step runs one program (not a grace period, a map operation, the maps' free, two concurrent runs or the owner's exit). */
export function isRunStep(s: ScheduleStep): s is RunStep {
  return stepKind(s) === 'run';
}

/** The program runs of a step: itself for a run step, both runs of a concurrent one, none otherwise. */
export function stepRuns(s: ScheduleStep): readonly RunStep[] {
  if ('concurrent' in s) return s.concurrent;
  return isRunStep(s) ? [s] : [];
}

/** Why the scenario exists: a program meant to be valid, or one that breaks exactly one spec rule on purpose. */
export type Intent =
  | { readonly kind: 'valid' }
  | { readonly kind: 'break'; readonly rule: string }
  | { readonly kind: 'mixed' };

export interface Scenario {
  /** C identifier prefix, unique within a batch: `s42_7`, `percpu_alloc_array`. */
  readonly id: string;
  readonly description: string;
  /** fast-check replay information; null for hand-written scenarios. */
  readonly origin: { readonly seed: number; readonly path: string; readonly index: number } | null;
  readonly intent: Intent;
  readonly structs: readonly StructType[];
  readonly slots: readonly Slot[];
  readonly globals: readonly GlobalVar[];
  readonly programs: readonly Program[];
  readonly schedule: readonly ScheduleStep[];
}
