import { describe, expect, it } from 'vitest';
import { resolveConfig } from '../../../cli/config.ts';
import { errorOf } from '../../helpers/errorOf.ts';

const ctx = { command: 'run', now: new Date('2026-11-25T00:00:00Z'), randomSeed: 7, formatNames: ['jsonl'], cwd: '/w', repoRoot: '/r' };

describe('resolveConfig --lanes', () => {
  it('should leave the lane count to the vm runner unless given, and take a positive integer', () => {
    expect(resolveConfig({ runner: 'vm', kernel: '6.12' }, ctx).lanes).toBeNull();
    expect(resolveConfig({ runner: 'vm', kernel: '6.12', lanes: '3' }, ctx).lanes).toBe(3);
  });

  it('should refuse 0 and non-integers as usage errors', () => {
    for (const lanes of ['0', 'two', '-1']) {
      const e = errorOf(() => resolveConfig({ runner: 'vm', kernel: '6.12', lanes }, ctx));
      expect(e).toMatchObject({ code: 'KPTR_USAGE' });
      expect(String((e as Error).message)).toContain('--lanes');
    }
  });

  it('should shrink findings in a campaign only', () => {
    expect(resolveConfig({}, ctx).shrink).toBe(true);
    expect(resolveConfig({ shrink: false }, ctx).shrink).toBe(false);
    expect(resolveConfig({}, { ...ctx, command: 'selftests' }).shrink).toBe(false);
  });
});

describe('resolveConfig --codegen', () => {
  it('should write objects directly in a campaign and compile C elsewhere unless told', () => {
    expect(resolveConfig({}, ctx).codegen).toBe('direct');
    expect(resolveConfig({}, { ...ctx, command: 'replay' }).codegen).toBe('clang');
    expect(resolveConfig({}, { ...ctx, command: 'selftests' }).codegen).toBe('clang');
    expect(resolveConfig({ codegen: 'clang' }, ctx).codegen).toBe('clang');
  });

  it('should refuse an unknown codegen as a usage error naming the choices', () => {
    const e = errorOf(() => resolveConfig({ codegen: 'gcc' }, ctx));
    expect(e).toMatchObject({ code: 'KPTR_USAGE' });
    expect(String((e as Error).message)).toContain('clang, direct');
  });
});
