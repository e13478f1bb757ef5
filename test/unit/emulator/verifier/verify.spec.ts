import { describe, expect, it } from 'vitest';
import { I } from '../../../../bpf/asm/I.ts';
import { type Insn, insnWords } from '../../../../bpf/asm/insn.ts';
import type { LocalType, MapDesc, VerifierProgram } from '../../../../emulator/verifier/input.ts';
import { loadProfile } from '../../../../emulator/verifier/profile.ts';
import { type VerifyResult, verifyProgram } from '../../../../emulator/verifier/verify.ts';

const VAL_T: LocalType = { kind: 'struct', name: 'val_t', size: 24, scalarsOnly: true, specialFields: false };
const ARRAY: MapDesc = {
  name: 'array', kind: 'array', keySize: 4, valueSize: 16, maxEntries: 1, frozenValue: null, spinLock: false,
  fields: [{ off: 8, kind: 'percpu_kptr', pointee: { id: 17, name: 'val_t', size: 24 } }],
};

/** A program from instruction slots; `kfuncs` names the kfunc called at a slot, `maps` the map an ld_imm64 loads. */
function prog(insns: (Insn | [Insn, Insn])[], o: { kfuncs?: Record<number, string>; maps?: Record<number, MapDesc>; sleepable?: boolean; license?: string } = {}): VerifierProgram {
  const flat = insns.flat();
  const kfuncCalls = o.kfuncs ?? {};
  return {
    name: 'p', progKind: o.sleepable ? 'syscall' : 'sched_cls', sleepable: o.sleepable ?? false, attachTo: null, license: o.license ?? 'GPL',
    words: insnWords(flat),
    length: flat.length,
    ldImm64: Object.fromEntries(Object.entries(o.maps ?? {}).map(([i, map]) => [i, { kind: 'map', map }])),
    kfuncCalls,
    externKfuncs: [...new Set(Object.values(kfuncCalls))],
    localType: (id) => (id === 17 ? VAL_T : null),
  };
}

const firstLines = (r: VerifyResult): string[] => (r.verdict === 'rejected' ? r.log.split('\n').filter((l) => l !== '' && !l.startsWith('processed ')) : []);

// new; if (!p) return 0; (then fall through to return 0 with p live: a leak)
const leakNew = prog([
  I.ldImm64(1, 17n), I.mov64Imm(2, 0), I.callExtern(), I.jeqImm(0, 0, 0), I.mov64Imm(0, 0), I.exit(),
], { kfuncs: { 3: 'bpf_percpu_obj_new_impl' } });

// new; if (!p) return 0; drop(p); drop(p)
const doubleDrop = prog([
  I.ldImm64(1, 17n), I.mov64Imm(2, 0), I.callExtern(), I.mov64Reg(6, 0), I.jeqImm(6, 0, 6),
  I.mov64Reg(1, 6), I.mov64Imm(2, 0), I.callExtern(), I.mov64Reg(1, 6), I.mov64Imm(2, 0), I.callExtern(),
  I.mov64Imm(0, 0), I.exit(),
], { kfuncs: { 3: 'bpf_percpu_obj_new_impl', 8: 'bpf_percpu_obj_drop_impl', 11: 'bpf_percpu_obj_drop_impl' } });

// key = 0; e = lookup(&array, &key); if (!e) return 0; p = e->pc; this_cpu_ptr(p)   (no NULL check of p)
const thisCpuUnchecked = (sleepable: boolean) => prog([
  I.mov64Imm(1, 0), I.stx(4, 10, -4, 1), I.mov64Reg(2, 10), I.add64Imm(2, -4), I.ldImm64(1, 0n), I.call(1),
  I.jeqImm(0, 0, 3), I.ldx(8, 1, 0, 8), I.call(154), I.mov64Imm(0, 0), I.exit(),
], { maps: { 4: ARRAY }, sleepable });

describe('verifyProgram', () => {
  it('should report a leaked reference in each kernel\'s words', () => {
    expect(firstLines(verifyProgram(leakNew, loadProfile('6.18')))).toEqual([
      'Unreleased reference id=2 alloc_insn=3', 'BPF_EXIT instruction in main prog would lead to reference leak']);
    expect(firstLines(verifyProgram(leakNew, loadProfile('6.12')))).toEqual(['Unreleased reference id=2 alloc_insn=3']);
    expect(firstLines(verifyProgram(leakNew, loadProfile('7.3')))).toEqual([
      'Unreleased reference id=2 alloc_insn=3', 'Verification failed: Resource Lifetime Safety: Unreleased resource',
      'BPF_EXIT instruction in main prog would lead to reference leak']);
  });

  it('should refuse a second drop of a released object', () => {
    const r = verifyProgram(doubleDrop, loadProfile('6.18'));
    expect(r.verdict === 'rejected' && r.errnoName).toBe('EINVAL');
    expect(firstLines(r)).toEqual(['R1 must be referenced or trusted']);
    expect(firstLines(verifyProgram(doubleDrop, loadProfile('7.3')))[0]).toBe('release kfunc bpf_percpu_obj_drop_impl expects referenced PTR_TO_BTF_ID passed to R1');
  });

  it('should type a kptr load by the RCU section it is in', () => {
    expect(firstLines(verifyProgram(thisCpuUnchecked(false), loadProfile('6.18')))).toEqual([
      'R1 type=percpu_rcu_ptr_or_null_ expected=percpu_ptr_, percpu_rcu_ptr_, percpu_trusted_ptr_']);
    expect(firstLines(verifyProgram(thisCpuUnchecked(true), loadProfile('6.18')))).toEqual([
      'R1 type=untrusted_ptr_or_null_ expected=percpu_ptr_, percpu_rcu_ptr_, percpu_trusted_ptr_']);
    expect(firstLines(verifyProgram(thisCpuUnchecked(false), loadProfile('6.1')))).toEqual(['R1 type=scalar expected=percpu_ptr_']);
  });

  it('should refuse kfuncs in a non-GPL program and kfuncs the kernel lacks', () => {
    expect(firstLines(verifyProgram({ ...leakNew, license: 'Proprietary' }, loadProfile('6.18')))).toEqual(['cannot call kernel function from non-GPL compatible program']);
    const r = verifyProgram(leakNew, loadProfile('6.1'));
    expect(r.verdict === 'rejected' && r.stage).toBe('libbpf');
    expect(firstLines(r)).toEqual(["libbpf: extern (func ksym) 'bpf_percpu_obj_new_impl': not found in kernel or module BTFs"]);
  });

  it('should walk an iterator\'s drained path before its body, as process_iter_next_call queues it', () => {
    // bpf_iter_num_new(&it, 0, 10); while ((p = next(&it))) { body }; destroy(&it); post-loop
    const loop = (body: Insn, post: Insn) => prog([
      I.mov64Reg(1, 10), I.add64Imm(1, -8), I.mov64Imm(2, 0), I.mov64Imm(3, 10), I.callExtern(),
      I.mov64Reg(1, 10), I.add64Imm(1, -8), I.callExtern(), I.jeqImm(0, 0, 2), body, I.ja(-6),
      I.mov64Reg(1, 10), I.add64Imm(1, -8), I.callExtern(), post, I.mov64Imm(0, 0), I.exit(),
    ], { kfuncs: { 4: 'bpf_iter_num_new', 7: 'bpf_iter_num_next', 13: 'bpf_iter_num_destroy' } });
    const badBody = I.ldx(8, 1, 0, 0); // an 8-byte read through the 4-byte int * the iterator returns
    const badPost = I.ldx(8, 2, 10, -16); // a read of a stack slot nothing wrote
    const profile = loadProfile('6.18');
    expect(firstLines(verifyProgram(loop(badBody, badPost), profile))).toEqual(['invalid read from stack off -16+0 size 8']);
    expect(firstLines(verifyProgram(loop(badBody, I.mov64Imm(2, 0)), profile))).toEqual(['invalid access to memory, mem_size=4 off=0 size=8']);
    expect(verifyProgram(loop(I.ldx(4, 1, 0, 0), I.mov64Imm(2, 0)), profile).verdict).toBe('accepted');
  });

  it('should accept a bounded loop by walking it', () => {
    // for (r6 = 0; r6 != 64; r6++) ;
    const loop = prog([I.mov64Imm(6, 0), I.add64Imm(6, 1), I.jneImm(6, 64, -2), I.mov64Imm(0, 0), I.exit()]);
    const r = verifyProgram(loop, loadProfile('6.18'));
    expect(r.verdict).toBe('accepted');
  });
});
