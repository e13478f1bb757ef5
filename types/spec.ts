import type { StatePairOp, StatePairState } from './statePair.ts';
import type { MapOpContract, MapOpKind } from './mapOp.ts';
import type { LifetimeStepKind, MapType, OpKind, Scenario } from './scenario.ts';

/** Symbolic errno as the C harness prints it (`EACCES`), never a bare number. */
export type ErrnoName = string;

/**
 * Kernel version range, e.g. `>=6.8 <7.0`, `>=7.3`, `*`. Space-separated comparators on `major.minor[.patch]`, all must hold.
 */
export type VersionRange = string;

/**
 * The verifier (or libbpf) output a rule produces on some kernels. `lines` are ordered substrings of the log
 * (test_loader's `__msg` semantics): `${param}` is filled in by the oracle (`${reg}`, `${struct}`, `${off}`,
 * `${type}`, `${kfunc}`, `${size}`, `${limit}`), `{{regex}}` is a regex island for numbers nobody models (`id=`, `alloc_insn=`).
 */
export interface RuleMessage {
  readonly kernels: VersionRange;
  readonly errno: ErrnoName;
  readonly lines: readonly string[];
}

/** One acceptance rule concerning per-CPU kptrs. The id is stable: file name, oracle ruleId, report field, reproducer __description. */
export interface Rule {
  readonly id: string;
  /** group letter of research/kernel-semantics.md §2 (A kfunc availability, B new, C drop, D xchg, E field access, F per_cpu_ptr, G deref, H rcu, I refs, J maps) */
  readonly group: string;
  readonly title: string;
  /** the condition in words: what makes a correct kernel refuse the program */
  readonly condition: string;
  readonly stage: 'verifier' | 'libbpf' | 'map_create';
  /** which params the message lines use */
  readonly params: readonly string[];
  /** message per kernel range; first matching entry wins; a kernel matching none has no such rule (feature absent) */
  readonly messages: readonly RuleMessage[];
  /** upstream selftest that exercises it, `progs/percpu_alloc_fail.c:test_array_map_4`, or null */
  readonly upstream: string | null;
  /** ground-truth case name under research/ground-truth/progs, or null */
  readonly groundTruth: string | null;
}

/** The contract of one operation (kfunc, helper, or instruction pattern) as documented. */
export interface OpContract {
  readonly op: OpKind;
  /** kernel symbol or pattern: `bpf_percpu_obj_new_impl`, `bpf_kptr_xchg` (helper #194), `BPF_LDX|BPF_MEM|BPF_DW` */
  readonly symbol: string;
  readonly kind: 'kfunc' | 'helper' | 'insn' | 'macro';
  readonly consumes: string;
  readonly produces: string;
  /** when the result may be NULL at run time, or `never` */
  readonly returnsNull: string;
  /** flags the kernel attaches (KF_ACQUIRE, KF_RET_NULL, KF_RELEASE, OBJ_RELEASE, ...) */
  readonly flags: readonly string[];
  /** rule ids this op can break */
  readonly rules: readonly string[];
}

/** Feature names of the kernel matrix (specs/kernels.yaml). */
export type FeatureName =
  | 'percpu_kptr'          // percpu_kptr tag, bpf_percpu_obj_new_impl/drop_impl (v6.7)
  | 'obj_new'              // bpf_obj_new_impl / bpf_obj_drop_impl (v6.2)
  | 'rcu_kfuncs'           // bpf_rcu_read_lock / unlock (v6.2)
  | 'bpf_for'              // open-coded iterators bpf_iter_num_* (v6.4)
  | 'percpu_size_limit'    // 512-byte limit for bpf_percpu_obj_new (v6.8)
  | 'nested_rcu_lock'      // nested bpf_rcu_read_lock allowed
  | 'exit_leak_trailer'    // "BPF_EXIT instruction in main prog would lead to reference leak"
  | 'reject_plain_into_percpu' // kptr_xchg refuses a bpf_obj_new object into a __percpu_kptr field
  | 'exit_checks_leak_first'   // at BPF_EXIT the reference-leak check runs before the rcu-lock check (check_resource_leak)
  | 'sleepable_fentry_test1'   // bpf_fentry_test1 takes fentry.s programs (KF_SLEEPABLE in the modify_return id set)
  | 'unlock_keeps_implicit_rcu' // in a non-sleepable program, bpf_rcu_read_unlock leaves MEM_RCU pointers trusted
  | 'cgrp_storage';         // BPF_MAP_TYPE_CGRP_STORAGE and bpf_cgrp_storage_get (v6.2)

export interface KernelFeatures {
  /** `major.minor` */
  readonly version: string;
  readonly note: string;
  readonly features: Readonly<Record<FeatureName, boolean>>;
}

/**
 * A known way a real kernel differs from what a correct kernel must do: in what it verifies (a rule it skips,
 * misapplies or words differently) or in what a program it accepted observes at run time (an op contract it breaks).
 */
export type Divergence = DivergenceCommon &
  (
    | {
        readonly kind: 'accepts_invalid' | 'rejects_valid' | 'message';
        /** rule the correct kernel applies (and this kernel does not), or whose message differs */
        readonly rule: string;
        /** how a kernel shows it, verified without being run: decides where the divergence applies (not the range) */
        readonly probe: DivergenceProbe;
      }
    | {
        /**
         * an accepted program reads a value the op's contract rules out. No probe: showing it takes a run, and probes
         * never execute, so it is `unprobed` and placed by its range
         */
        readonly kind: 'value';
        /** the op whose run-time contract (specs/ops) the kernel breaks */
        readonly op: OpKind;
        /**
         * it shows only after one of these userspace map operations removed or overwrote an element holding an
         * object (what runs and map operations see from that step on); null: in any run of the op
         */
        readonly afterMapOps: readonly MapOpTrigger[] | null;
      }
  );

/**
 * A load-only behavioural test of a divergence: one program of a built-in case (specs/selftests) and the verdict (and
 * for a rejection, the ordered log substrings with {{regex}} islands) a kernel that has the divergence gives it.
 * Any other outcome means the kernel does not show it. Probes are verified, never executed, so they are host-safe.
 */
export interface DivergenceProbe {
  /** scenario id of the built-in case */
  readonly case: string;
  readonly program: string;
  readonly verdict: 'accepted' | 'rejected';
  readonly msgs: readonly string[];
}

interface DivergenceCommon {
  readonly id: string;
  readonly kernels: VersionRange;
  /** one line: what goes wrong and why it matters */
  readonly reason: string;
  /** never execute affected programs outside a VM */
  readonly hostUnsafe: boolean;
  /** the affected kernels log a splat for it (e.g. a `verifier bug` WARN while verifying) */
  readonly splat: boolean;
  /**
   * what the kernel does for it corrupts state that later cases meet without dying at once (a plain object freed
   * through the per-CPU allocator): a VM runs such a case in a boot of its own. Absent in the YAML: false.
   */
  readonly taintsKernel: boolean;
  readonly evidence: string;
  /**
   * the emulator profile feature (specs/profiles) that models this divergence, and its value on a kernel that shows
   * it: a probed kernel's emulator gets the value its probe says, whatever its version (backports keep the version)
   */
  readonly emulatorFeature: EmulatorFeature | null;
  /**
   * rejects_valid: the (op × handle state) pairs through which a program the contract accepts meets the divergence (a
   * kernel showing it refuses such a program); the oracle puts a hit on every accepted program that reaches one
   */
  readonly validPairs: readonly { readonly op: StatePairOp; readonly state: StatePairState }[] | null;
}

/** The documented contract of a schedule step that is neither a program run nor a map operation (specs/ops/lifetime/). */
export interface LifetimeContract {
  readonly step: LifetimeStepKind;
  /** what the runner does */
  readonly how: string;
  /** what happens to the objects kptr fields hold */
  readonly kptrField: string;
  /** what later steps observe */
  readonly afterwards: string;
  /** what the memory oracle checks, where it checks anything */
  readonly memory: string | null;
}

/** Userspace map operations, on elements of these map types, that start a value divergence (Divergence.afterMapOps). */
export interface MapOpTrigger {
  readonly mapOps: readonly MapOpKind[];
  readonly mapTypes: readonly MapType[];
  /** only operations that pass BPF_F_LOCK (absent: with or without it) */
  readonly lock?: boolean;
}

export interface EmulatorFeature {
  readonly name: string;
  readonly whenShown: boolean;
}

export interface Spec {
  readonly rules: readonly Rule[];
  readonly ops: readonly OpContract[];
  /** userspace map operations (specs/ops/map/) */
  readonly mapOps: readonly MapOpContract[];
  /** the other schedule steps (specs/ops/lifetime/) */
  readonly lifetimes: readonly LifetimeContract[];
  readonly kernels: readonly KernelFeatures[];
  readonly divergences: readonly Divergence[];
}

/** Expected outcome of one program on the kernels in `kernels` (first match wins). */
export interface ProgramExpect {
  readonly program: string;
  readonly kernels: VersionRange;
  readonly verdict: 'accepted' | 'rejected';
  /** ordered substrings with {{regex}} islands (test_loader `__msg`) */
  readonly msgs: readonly string[];
}

/** A built-in case: an upstream selftest or ground-truth program as a scenario, with its recorded expectations. */
export interface SelftestCase {
  readonly scenario: Scenario;
  /** `upstream:progs/percpu_alloc_fail.c` or `ground-truth:16_xchg_obj_new_nonpercpu` */
  readonly source: string;
  readonly expect: {
    readonly programs: readonly ProgramExpect[];
    /** global values after the whole schedule, decimal strings */
    readonly globals: Readonly<Record<string, string>>;
  };
  /** known divergence ids that apply to this case (expectation = correct kernel) */
  readonly divergences: readonly string[];
}
