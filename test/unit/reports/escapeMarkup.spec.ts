import { describe, expect, it } from 'vitest';
import { escapeMarkup } from '../../../reports/escapeMarkup.ts';

describe('escapeMarkup', () => {
  it('should return text with nothing to escape as it is, in content and in attributes', () => {
    expect(escapeMarkup('kptr_xchg.bad_src 0.012 aua µ')).toBe('kptr_xchg.bad_src 0.012 aua µ');
    expect(escapeMarkup('kptr-conform emulator 6.18.44', true)).toBe('kptr-conform emulator 6.18.44');
  });

  it('should escape the markup characters, replace forbidden controls, and keep whitespace in content only', () => {
    expect(escapeMarkup(`a<b>&"c'\u0000\u001F\uFFFE\t\n\r`)).toBe('a&lt;b&gt;&amp;&quot;c&#39;\uFFFD\uFFFD\uFFFD\t\n\r');
    expect(escapeMarkup('line 1\nline 2\ttab\r', true)).toBe('line 1&#10;line 2&#9;tab&#13;');
    expect(escapeMarkup('\u0001', true)).toBe('\uFFFD');
  });
});
