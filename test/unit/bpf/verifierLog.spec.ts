import { describe, expect, it } from 'vitest';
import { linesToError, logLines } from '../../../bpf/verifierLog.ts';
import { firstErrorLine, lastErrorLine } from '../../../judge/matchMessages.ts';

// 7.3.4's log for a bpf_per_cpu_ptr call on an unchecked per-CPU object (VM campaign seed 2, s2_16), report shortened
const LOG_7_3 = [
  '60: (3e) if w2 >= w1 goto pc+12       ; R1=2',
  '61: (79) r1 = *(u64 *)(r10 -56)       ; R1=percpu_ptr_s2_16_t0(id=4)',
  '62: (85) call bpf_per_cpu_ptr#153',
  'R1 type=percpu_ptr_ expected=percpu_ptr_, percpu_rcu_ptr_, percpu_trusted_ptr_',
  '',
  'Verification failed: Call Type Safety: Invalid call argument',
  '',
  'Reason:',
  '  The first argument (R1) to bpf_per_cpu_ptr does not satisfy the verifier contract: it has type',
  'At:',
  '  >>>  62 | (85) call bpf_per_cpu_ptr#153',
  'Suggestion:',
  '  Pass a value with one of the accepted pointer or scalar types for this call.',
  '',
  'processed 90 insns (limit 1000000) max_states_per_insn 0 total_states 8 peak_states 8 mark_read 0',
  '',
].join('\n');

describe('the verifier log', () => {
  it('should end at the error line, before a 7.x report and the statistics', () => {
    expect(logLines(LOG_7_3)).toHaveLength(11);
    expect(linesToError(LOG_7_3).at(-1)).toBe('R1 type=percpu_ptr_ expected=percpu_ptr_, percpu_rcu_ptr_, percpu_trusted_ptr_');
    expect(lastErrorLine(LOG_7_3)).toBe('R1 type=percpu_ptr_ expected=percpu_ptr_, percpu_rcu_ptr_, percpu_trusted_ptr_');
    expect(firstErrorLine(LOG_7_3)).toBe('R1 type=percpu_ptr_ expected=percpu_ptr_, percpu_rcu_ptr_, percpu_trusted_ptr_');
  });

  it('should keep every line before the statistics of a log without a report (6.x)', () => {
    const log = '0: R1=ctx() R10=fp0\nUnreleased reference id=2 alloc_insn=3\nBPF_EXIT instruction in main prog would lead to reference leak\nprocessed 5 insns (limit 1000000)\n';
    expect(linesToError(log)).toEqual(['0: R1=ctx() R10=fp0', 'Unreleased reference id=2 alloc_insn=3', 'BPF_EXIT instruction in main prog would lead to reference leak']);
    expect(firstErrorLine(log)).toBe('Unreleased reference id=2 alloc_insn=3');
    expect(lastErrorLine(log)).toBe('BPF_EXIT instruction in main prog would lead to reference leak');
  });
});
