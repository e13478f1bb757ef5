import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  type AluOp, type JmpOp, type Scalar, negateJmp, scalarAlu, scalarBranchTaken, scalarConst, scalarContains, scalarRefine,
  scalarSync, scalarUnknown,
} from '../../../../emulator/verifier/scalar.ts';
import { tnumAdd, tnumConst, tnumContains, tnumMul, tnumRange, tnumSub } from '../../../../emulator/verifier/tnum.ts';

const U64 = (1n << 64n) - 1n;
const u64 = fc.oneof(fc.bigInt({ min: 0n, max: 70n }), fc.bigInt({ min: 0n, max: U64 }), fc.bigInt({ min: U64 - 70n, max: U64 }),
  fc.bigInt({ min: 0n, max: 0xffffffffn }));

/** An abstract value and a concrete member of it: a range around the value, sometimes with a 32-bit range too. */
const member = fc.tuple(u64, u64, u64, fc.boolean()).map(([v, a, b, narrow]): [Scalar, bigint] => {
  const r = scalarUnknown();
  const lo = a < v ? a : v;
  const hi = b > v ? b : v;
  r.umin = narrow ? v : lo;
  r.umax = narrow ? v : hi;
  return [scalarSync(r), v];
});

const trunc = (v: bigint, is32: boolean): bigint => (is32 ? BigInt.asUintN(32, v) : BigInt.asUintN(64, v));

function concrete(op: AluOp, x: bigint, y: bigint, is32: boolean): bigint {
  const bits = is32 ? 32 : 64;
  const a = trunc(x, is32);
  const b = trunc(y, is32);
  const sh = Number(b);
  switch (op) {
    case 'add': return trunc(a + b, is32);
    case 'sub': return trunc(a - b, is32);
    case 'mul': return trunc(a * b, is32);
    case 'div': return b === 0n ? 0n : a / b;
    case 'mod': return b === 0n ? a : a % b;
    case 'or': return a | b;
    case 'and': return a & b;
    case 'xor': return a ^ b;
    case 'lsh': return trunc(a << BigInt(sh), is32);
    case 'rsh': return a >> BigInt(sh);
    case 'arsh': return trunc(BigInt.asIntN(bits, a) >> BigInt(sh), is32);
    case 'neg': return trunc(-a, is32);
    case 'mov': return b;
  }
}

function holds(op: JmpOp, x: bigint, y: bigint, is32: boolean): boolean {
  const a = trunc(x, is32);
  const b = trunc(y, is32);
  const bits = is32 ? 32 : 64;
  const sa = BigInt.asIntN(bits, a);
  const sb = BigInt.asIntN(bits, b);
  switch (op) {
    case 'jeq': return a === b;
    case 'jne': return a !== b;
    case 'jgt': return a > b;
    case 'jge': return a >= b;
    case 'jlt': return a < b;
    case 'jle': return a <= b;
    case 'jsgt': return sa > sb;
    case 'jsge': return sa >= sb;
    case 'jslt': return sa < sb;
    case 'jsle': return sa <= sb;
    case 'jset': return (a & b) !== 0n;
  }
}

const ALU: AluOp[] = ['add', 'sub', 'mul', 'div', 'mod', 'or', 'and', 'xor', 'lsh', 'rsh', 'arsh', 'neg', 'mov'];
const JMP: JmpOp[] = ['jeq', 'jne', 'jgt', 'jge', 'jlt', 'jle', 'jsgt', 'jsge', 'jslt', 'jsle', 'jset'];

describe('scalar bounds', () => {
  it('should contain the concrete result of every ALU op (64 and 32 bit)', () => {
    fc.assert(fc.property(fc.constantFrom(...ALU), member, member, fc.boolean(), fc.integer({ min: 0, max: 63 }), (op, [a, x], [b0, y0], is32, sh) => {
      const shift = op === 'lsh' || op === 'rsh' || op === 'arsh';
      const y = shift ? BigInt(is32 ? sh % 32 : sh) : y0;
      const b = shift ? scalarConst(y) : b0;
      const r = scalarAlu(op, a, b, is32);
      expect(scalarContains(r, concrete(op, x, y, is32))).toBe(true);
    }), { numRuns: 4000, seed: 13 });
  });

  it('should decide a branch only when every pair of members agrees, and refine soundly', () => {
    fc.assert(fc.property(fc.constantFrom(...JMP), member, member, fc.boolean(), (op, [a, x], [b, y], is32) => {
      const h = holds(op, x, y, is32);
      const taken = scalarBranchTaken(op, a, b, is32);
      if (taken !== -1) expect(taken === 1).toBe(h);
      const side = h ? op : negateJmp[op];
      if (side === null) return;
      const [ra, rb] = scalarRefine(side, a, b, is32);
      expect(scalarContains(ra, x)).toBe(true);
      expect(scalarContains(rb, y)).toBe(true);
    }), { numRuns: 4000, seed: 13 });
  });

  it('should keep constants exact', () => {
    const r = scalarAlu('add', scalarConst(3n), scalarConst(-4n), false);
    expect(r.varOff).toEqual(tnumConst(-1n));
    expect(r.smin).toBe(-1n);
    expect(scalarAlu('lsh', scalarConst(1n), scalarConst(32n), false).umin).toBe(1n << 32n);
  });
});

describe('tnum', () => {
  it('should contain concrete sums, differences and products', () => {
    fc.assert(fc.property(u64, u64, u64, u64, (a, b, c, d) => {
      const ta = tnumRange(a < b ? a : b, a < b ? b : a);
      const tb = tnumRange(c < d ? c : d, c < d ? d : c);
      expect(tnumContains(tnumAdd(ta, tb), a + c)).toBe(true);
      expect(tnumContains(tnumSub(ta, tb), a - c)).toBe(true);
      expect(tnumContains(tnumMul(ta, tb), a * c)).toBe(true);
    }), { numRuns: 2000, seed: 13 });
  });
});
