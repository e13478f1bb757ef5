import { describe, expect, it } from 'vitest';
import { bugSignature, normaliseLine } from '../../../reports/bugSignature.ts';
import { accepted, LOG_USE_AFTER_DROP, observation, prediction, rejected, run } from './fixtures/cases.ts';

// First error lines as research/ground-truth/RESULTS.md records them, and kernel console titles (runners/vm fixtures)
describe('normaliseLine', () => {
  const same = (a: [string, string], b: [string, string]): void => expect(normaliseLine(...a)).toBe(normaliseLine(...b));
  const differ = (a: [string, string], b: [string, string]): void => expect(normaliseLine(...a)).not.toBe(normaliseLine(...b));

  it('should take out reference ids and instruction indices', () => {
    same(['Unreleased reference id=2 alloc_insn=3', 's1_0'], ['Unreleased reference id=5 alloc_insn=17', 's1_9']);
    expect(normaliseLine('Unreleased reference id=2 alloc_insn=3', 's1_0')).toBe('Unreleased reference id=N alloc_insn=N');
  });

  it('should take out register numbers (clang and the direct object writer pick different registers)', () => {
    same(['R1 must be referenced or trusted', 's1_0'], ['R7 must be referenced or trusted', 's2_0']);
    same(['invalid kptr access, R2 type=ptr_ expected=ptr_val_t', 's1_0'], ['invalid kptr access, R6 type=ptr_ expected=ptr_val_t', 's2_0']);
    same(['release kfunc bpf_percpu_obj_drop_impl expects referenced PTR_TO_BTF_ID passed to R1', 's1_0'],
      ['release kfunc bpf_percpu_obj_drop_impl expects referenced PTR_TO_BTF_ID passed to R3', 's2_0']);
  });

  it('should take out the scenario id that prefixes generated names', () => {
    same(['R1 type=scalar expected=percpu_ptr_s42_7_t0, percpu_rcu_ptr_', 's42_7'], ['R1 type=scalar expected=percpu_ptr_s9_1300_t0, percpu_rcu_ptr_', 's9_1300']);
    expect(normaliseLine('type=percpu_ptr_s42_7_t0', 's42_7')).toBe('type=percpu_ptr_<id>_tN');
  });

  it('should take out CPUs, PIDs, line numbers and addresses of a kernel splat title', () => {
    same(['WARNING: CPU: 1 PID: 55 at kernel/bpf/memalloc.c:253 __free_by_rcu+0x9a/0xb0', 's1_0'],
      ['WARNING: CPU: 0 PID: 871 at kernel/bpf/memalloc.c:253 __free_by_rcu+0x9c/0xb0', 's2_0']);
    same(['BUG: kernel NULL pointer dereference, address: 0000000000000008', 's1_0'], ['BUG: kernel NULL pointer dereference, address: 0000000000000010', 's2_0']);
    same(['BUG: KASAN: slab-use-after-free in bpf_percpu_obj_drop_impl+0x10/0x20', 's1_0'], ['BUG: KASAN: slab-use-after-free in bpf_percpu_obj_drop_impl+0x1c/0x40', 's2_0']);
    differ(['BUG: kernel NULL pointer dereference, address: 0000000000000008', 's1_0'], ['BUG: unable to handle page fault for address: ffff888004a1c000', 's1_0']);
  });

  it('should keep apart what the kernel says differently', () => {
    differ(['Possibly NULL pointer passed to trusted arg0', 's1_0'], ['R1 must be referenced or trusted', 's1_0']);
    differ(['arg#0 expected for bpf_percpu_obj_drop_impl()', 's1_0'], ['arg#0 expected for bpf_obj_drop_impl()', 's1_0']);
    differ(["libbpf: extern (func ksym) 'bpf_percpu_obj_new_impl': not found in kernel or module BTFs", 's1_0'],
      ["libbpf: extern (func ksym) 'bpf_percpu_obj_drop_impl': not found in kernel or module BTFs", 's1_0']);
  });
});

describe('bugSignature', () => {
  const KERNEL = '6.18.44-fc-v669';

  it('should be null for a case every result of which is as predicted', () => {
    expect(bugSignature(prediction(), observation())).toBeNull();
  });

  it('should name kind, expected rule, the kernel and its first error line for a message mismatch', () => {
    const o = observation({ programs: [accepted('rp1_store'), accepted('rp1_sum_it'), rejected('rp1_leak', LOG_USE_AFTER_DROP, { errnoName: 'EACCES' })] });
    expect(bugSignature(prediction(), o)).toBe(`message[refs.unreleased]: verifier EACCES: RN type=scalar expected=percpu_ptr_, percpu_rcu_ptr_, percpu_trusted_ptr_ @ ${KERNEL}`);
  });

  it('should take the first line of the error block, not the last', () => {
    const p = prediction({ programs: [{ program: 'rp1_store', verdict: 'accepted' }, { program: 'rp1_sum_it', verdict: 'accepted' }, { program: 'rp1_leak', verdict: 'accepted' }] });
    expect(bugSignature(p, observation())).toBe(`verdict_kernel_rejects[valid]: verifier EINVAL: Unreleased reference id=N alloc_insn=N @ ${KERNEL}`);
  });

  it('should give two sightings of one bug in different scenarios the same signature', () => {
    const accepts = (id: string) => {
      const rename = (s: string) => s.replace('rp1', id);
      const base = prediction();
      const p = { ...base, scenarioId: id, programs: base.programs.map((x) => ({ ...x, program: rename(x.program) })), steps: [] };
      const o = observation({ scenarioId: id, programs: ['rp1_store', 'rp1_sum_it', 'rp1_leak'].map((x) => accepted(rename(x))), runs: [] });
      return bugSignature(p, o);
    };
    expect(accepts('s7_12')).toBe(`verdict_kernel_accepts[refs.unreleased]: accepted @ ${KERNEL}`);
    expect(accepts('s7_1950')).toBe(accepts('s7_12'));
  });

  it('should leave out what a known divergence explains', () => {
    const p = prediction({ divergences: [{ program: 'rp1_leak', step: null, divergenceId: 'd1', hostUnsafe: false, splat: false, kind: 'accepts_invalid' }] });
    const o = observation({
      programs: [accepted('rp1_store'), accepted('rp1_sum_it'), accepted('rp1_leak')],
      runs: [run(0, 0, 'rp1_store', 4, { rp1_sum: '0', rp1_neg: '0' }), ...observation().runs.slice(1)],
    });
    expect(bugSignature(p, o)).toBe(`value[valid]: retval @ ${KERNEL}`);
    expect(bugSignature(p, observation({ programs: o.programs }))).toBeNull();
  });

  it('should name a splat by its normalised title', () => {
    const o = observation({ splats: [{ kind: 'warn', text: 'WARNING: CPU: 1 PID: 55 at kernel/bpf/memalloc.c:253 __free_by_rcu+0x9a/0xb0\nModules linked in:', during: 'rp1_store' }] });
    expect(bugSignature(prediction(), o)).toBe(`splat[valid]: warn: WARNING: CPU: N PID: N at kernel/bpf/memalloc.c:N __free_by_rcu+<hex>/<hex> @ ${KERNEL}`);
  });

});
