/**
 * The exception form of "the tool cannot do its job" (never of a kernel verdict: a rejection is an Observation).
 * Each code comes with one sentence saying what to do; the underlying error travels as `cause`.
 */
export type KptrErrorCode =
  | 'KPTR_USAGE'
  | 'KPTR_SPEC_INVALID'
  | 'KPTR_SCENARIO_INVALID'
  | 'KPTR_OBJECT_MALFORMED'
  | 'KPTR_NO_BPF_PRIVILEGE'
  | 'KPTR_CLANG_MISSING'
  | 'KPTR_COMPILE_FAILED'
  | 'KPTR_HARNESS_MISSING'
  | 'KPTR_HARNESS_CRASH'
  | 'KPTR_HARNESS_PROTOCOL'
  | 'KPTR_KERNEL_IMAGE_MISSING'
  | 'KPTR_KERNEL_IMAGE_INVALID'
  | 'KPTR_OUTPUT_UNUSABLE'
  | 'KPTR_OUTPUT_IN_USE'
  | 'KPTR_KERNEL_FETCH_FAILED'
  | 'KPTR_QEMU_MISSING'
  | 'KPTR_VM_TIMEOUT'
  | 'KPTR_VM_PANIC'
  | 'KPTR_RUNNER_UNAVAILABLE'
  | 'KPTR_DISK_FULL'
  | 'KPTR_INTERRUPTED';

export class KptrError extends Error {
  override readonly name = 'KptrError';
  constructor(
    readonly code: KptrErrorCode,
    message: string,
    /** what the user should do about it, one sentence */
    readonly hint: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }

  /** the single line the CLI prints */
  oneLine(): string {
    return `${this.code}: ${this.message} — ${this.hint}`;
  }
}
