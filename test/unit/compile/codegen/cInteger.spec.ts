import { describe, expect, it } from 'vitest';
import { cInteger } from '../../../../compile/codegen/cInteger.ts';

describe('cInteger', () => {
  it('should write values the type holds as literals with the suffix their size needs', () => {
    expect(cInteger('1', 'int')).toBe('1');
    expect(cInteger('-2147483647', 'int')).toBe('-2147483647');
    expect(cInteger('4294967295', '__u32')).toBe('4294967295ULL');
    expect(cInteger('18446744073709551615', '__u64')).toBe('18446744073709551615ULL');
    expect(cInteger('-9223372036854775808', 'long')).toBe('(-9223372036854775807LL - 1)');
    expect(cInteger('-4294967296', '__s64')).toBe('-4294967296LL');
  });

  it('should cast values the type does not hold', () => {
    expect(cInteger('300', 'char')).toBe('(char)300');
    expect(cInteger('-1', '__u64')).toBe('(__u64)-1');
    expect(cInteger('65536', '__u16')).toBe('(__u16)65536');
  });

  it('should refuse what is not a decimal u64/s64', () => {
    expect(cInteger('0x10', 'int')).toBeNull();
    expect(cInteger('18446744073709551616', '__u64')).toBeNull();
    expect(cInteger('', 'int')).toBeNull();
  });
});
