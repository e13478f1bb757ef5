import { describe, expect, it } from 'vitest';
import { readGlobal } from '../../../../emulator/machine/globals.ts';

describe('readGlobal', () => {
  it('should print 8-byte globals exactly as the harness does (%lld / %llu), on both sides of 2^53', () => {
    const view = new DataView(new ArrayBuffer(8));
    const values = [0n, 1n, -1n, 2n ** 53n - 1n, -(2n ** 53n), 2n ** 53n, 2n ** 53n + 1n, 2n ** 63n - 1n, -(2n ** 63n), 4294967298n, -4294967298n, -(2n ** 52n) - 7n];
    for (const value of values) {
      for (const signed of [true, false]) {
        view.setBigInt64(0, BigInt.asIntN(64, value), true);
        const expected = String(signed ? BigInt.asIntN(64, value) : BigInt.asUintN(64, value));
        expect(readGlobal(view, 0, { name: 'g', offset: 0, size: 8, typeId: 1, signed })).toBe(expected);
      }
    }
  });

  it('should sign-extend narrower signed types and not others', () => {
    const view = new DataView(new ArrayBuffer(8));
    view.setUint32(0, 0xfffffffe, true);
    expect(readGlobal(view, 0, { name: 'g', offset: 0, size: 4, typeId: 1, signed: true })).toBe('-2');
    expect(readGlobal(view, 0, { name: 'g', offset: 0, size: 4, typeId: 1, signed: false })).toBe('4294967294');
    expect(readGlobal(view, 0, { name: 'g', offset: 2, size: 2, typeId: 1, signed: true })).toBe('-1');
    expect(readGlobal(view, 0, { name: 'g', offset: 0, size: 1, typeId: 1, signed: null })).toBe('254');
    expect(readGlobal(view, 0, { name: 'g', offset: 0, size: 3, typeId: 1, signed: null })).toBeNull();
  });
});
