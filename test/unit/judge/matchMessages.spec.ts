import { describe, expect, it } from 'vitest';
import { explainMismatch, firstErrorLine, lastErrorLine, matchMessages } from '../../../judge/matchMessages.ts';
import { readFileSync } from 'node:fs';
import { LOG_LEAK_NEW, LOG_USE_AFTER_DROP } from '../reports/fixtures/cases.ts';

describe('matchMessages', () => {
  it('should match a plain substring of a real verifier log', () => {
    const r = matchMessages(LOG_USE_AFTER_DROP, ['R1 type=scalar expected=percpu_ptr_, percpu_rcu_ptr_, percpu_trusted_ptr_']);
    expect(r).toEqual({ ok: true, pieces: [{ pattern: 'R1 type=scalar expected=percpu_ptr_, percpu_rcu_ptr_, percpu_trusted_ptr_', status: 'MATCHED' }] });
  });

  it('should treat {{regex}} islands as regular expressions and the rest literally', () => {
    expect(matchMessages(LOG_LEAK_NEW, ['Unreleased reference id={{[0-9]+}} alloc_insn={{[0-9]+}}']).ok).toBe(true);
    // the literal `.` and `(` around an island are escaped: they must appear as such
    expect(matchMessages('call f(x) id=12', ['f(x) id={{[0-9]+}}']).ok).toBe(true);
    expect(matchMessages('call fQxR id=12', ['f(x) id={{[0-9]+}}']).ok).toBe(false);
    expect(matchMessages('a.b', ['a.b']).ok).toBe(true);
    expect(matchMessages('aXb', ['a.b']).ok).toBe(false);
    expect(matchMessages('aXb', ['a{{.}}b']).ok).toBe(true);
  });

  it('should not let an island cross a line break (REG_NEWLINE)', () => {
    expect(matchMessages('id=\n12', ['id={{.*}}12']).ok).toBe(false);
  });

  it('should require each line after the previous match', () => {
    const inOrder = ['Unreleased reference', 'BPF_EXIT instruction in main prog would lead to reference leak', 'processed 5 insns'];
    expect(matchMessages(LOG_LEAK_NEW, inOrder).ok).toBe(true);
    const swapped = ['BPF_EXIT instruction in main prog would lead to reference leak', 'Unreleased reference'];
    expect(matchMessages(LOG_LEAK_NEW, swapped)).toEqual({
      ok: false,
      pieces: [
        { pattern: swapped[0], status: 'MATCHED' },
        { pattern: swapped[1], status: 'EXPECTED' },
      ],
    });
  });

  it('should not match the same text twice for two equal lines', () => {
    expect(matchMessages('abc', ['abc', 'abc']).ok).toBe(false);
    expect(matchMessages('abc abc', ['abc', 'abc']).ok).toBe(true);
  });

  it('should mark every line after the first miss as EXPECTED', () => {
    const r = matchMessages('one two three', ['one', 'four', 'three']);
    expect(r.pieces.map((p) => p.status)).toEqual(['MATCHED', 'EXPECTED', 'EXPECTED']);
  });

  it('should accept an empty expectation', () => {
    expect(matchMessages('', [])).toEqual({ ok: true, pieces: [] });
  });
});

describe('lastErrorLine', () => {
  it('should skip the verifier statistics after the error', () => {
    expect(lastErrorLine(LOG_USE_AFTER_DROP)).toBe('R1 type=scalar expected=percpu_ptr_, percpu_rcu_ptr_, percpu_trusted_ptr_');
    expect(lastErrorLine(LOG_LEAK_NEW)).toBe('BPF_EXIT instruction in main prog would lead to reference leak');
    expect(lastErrorLine('')).toBeNull();
  });
});

describe('explainMismatch', () => {
  it('should render MATCHED, EXPECTED and UNEXPECTED lines and then the full log', () => {
    const text = explainMismatch(LOG_USE_AFTER_DROP, ['call bpf_per_cpu_ptr', 'Possibly NULL pointer passed to trusted arg0']);
    const lines = text.split('\n');
    expect(lines[0]).toBe("MATCHED  SUBSTR: 'call bpf_per_cpu_ptr'");
    expect(lines[1]).toBe("EXPECTED SUBSTR: 'Possibly NULL pointer passed to trusted arg0'");
    expect(lines[2]).toBe("UNEXPECTED       : 'R1 type=scalar expected=percpu_ptr_, percpu_rcu_ptr_, percpu_trusted_ptr_'");
    expect(lines[3]).toBe('VERIFIER LOG:');
    expect(text).toContain(LOG_USE_AFTER_DROP);
    expect(text.endsWith('=============')).toBe(true);
  });

  it('should label lines with islands as REGEX', () => {
    expect(explainMismatch('x', ['id={{[0-9]+}}'])).toContain("EXPECTED  REGEX: 'id={{[0-9]+}}'");
  });
});

describe('firstErrorLine', () => {
  it('should give the first line of the error block a real log ends with (RESULTS.md first error lines)', () => {
    // 6.18 goes on with `BPF_EXIT instruction in main prog would lead to reference leak`; 6.12 prints only this line
    expect(firstErrorLine(LOG_LEAK_NEW)).toBe('Unreleased reference id=2 alloc_insn=3');
    expect(firstErrorLine(LOG_USE_AFTER_DROP)).toBe('R1 type=scalar expected=percpu_ptr_, percpu_rcu_ptr_, percpu_trusted_ptr_');
    const fwd = readFileSync(new URL('../bpf/fixtures/37_fwd_pointee.verifier-6.18.44.log', import.meta.url), 'utf8');
    expect(firstErrorLine(fwd)).toBe('R1 type=scalar expected=percpu_ptr_, percpu_rcu_ptr_, percpu_trusted_ptr_');
  });

  it('should give the first line of a log without an instruction trace (libbpf refusing an extern)', () => {
    const log = "libbpf: extern (func ksym) 'bpf_percpu_obj_new_impl': not found in kernel or module BTFs\nlibbpf: failed to load object 'x'\n";
    expect(firstErrorLine(log)).toBe("libbpf: extern (func ksym) 'bpf_percpu_obj_new_impl': not found in kernel or module BTFs");
  });

  it('should be null for a log with only statistics', () => {
    expect(firstErrorLine('processed 5 insns (limit 1000000) max_states_per_insn 0\n')).toBeNull();
    expect(firstErrorLine('')).toBeNull();
  });
});
