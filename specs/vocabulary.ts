/**
 * The closed vocabularies of types/ as runtime values. Each list is built from a `Record<Union, true>`, so the
 * compiler refuses a missing or extra member when a union in types/ changes.
 */
import type { FeatureName, LifetimeStepKind, MapOpKind, MapType, MapUpdateFlag, OpKind, ProgType, ScalarCType } from '../types/index.ts';

const keysOf = <K extends string>(record: Record<K, true>): readonly K[] => Object.freeze(Object.keys(record) as K[]);

/** Every `Op['op']` of types/scenario.ts, in the order the op contracts are listed. */
export const OP_KINDS = keysOf<OpKind>({
  lookup: true, new: true, if: true, xchg: true, drop: true, load: true, store: true, per_cpu_ptr: true,
  this_cpu_ptr: true, write: true, read: true, sum: true, rcu_lock: true, rcu_unlock: true, return: true,
});

/** Every userspace map operation of types/mapOp.ts, in the order their contracts are listed. */
export const MAP_OP_KINDS = keysOf<MapOpKind>({
  update: true, delete: true, lookup: true, lookup_and_delete: true,
  update_batch: true, delete_batch: true, lookup_batch: true, lookup_and_delete_batch: true,
});

/** Every schedule step with a contract in specs/ops/lifetime/ (types/scenario.ts LifetimeStepKind). */
export const LIFETIME_STEP_KINDS = keysOf<LifetimeStepKind>({ grace_period: true, free_maps: true, concurrent: true, owner_exit: true });

/** The most keys of a generated batch update or delete and the largest `count` of a batch lookup (max_entries is 1). */
export const MAP_BATCH_MAX = 3;
export const MAP_UPDATE_FLAGS = keysOf<MapUpdateFlag>({ BPF_ANY: true, BPF_NOEXIST: true, BPF_EXIST: true });

/** Every column of specs/kernels.yaml. */
export const FEATURE_NAMES = keysOf<FeatureName>({
  percpu_kptr: true, obj_new: true, rcu_kfuncs: true, bpf_for: true, percpu_size_limit: true,
  nested_rcu_lock: true, exit_leak_trailer: true, reject_plain_into_percpu: true, exit_checks_leak_first: true,
  sleepable_fentry_test1: true, unlock_keeps_implicit_rcu: true, cgrp_storage: true,
});

export const PROG_TYPES = keysOf<ProgType>({ tc: true, syscall: true, fentry: true, 'fentry.s': true });

export const MAP_TYPES = keysOf<MapType>({ array: true, hash: true, lru_hash: true, percpu_array: true, percpu_hash: true, lru_percpu_hash: true });

export const SCALAR_CTYPES = keysOf<ScalarCType>({
  char: true, short: true, int: true, long: true, __u8: true, __u16: true, __u32: true, __u64: true,
  __s8: true, __s16: true, __s32: true, __s64: true,
});

/** Names a `${param}` in a rule message may use (types/spec.ts RuleMessage). */
export const MESSAGE_PARAMS = Object.freeze(['reg', 'struct', 'off', 'type', 'kfunc', 'size', 'limit', 'target'] as const);
