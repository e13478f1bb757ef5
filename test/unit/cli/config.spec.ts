import { describe, expect, it } from 'vitest';
import { defaultRunner, resolveConfig, type MachineProbe } from '../../../cli/config.ts';
import type { RunnerCapabilities } from '../../../types/index.ts';
import { errorOf } from '../../helpers/errorOf.ts';

const kernel = { release: '6.18.44-fc-v1045', version: '6.18.44', nrCpus: 2, machine: 'host' } as const;
const works = { ok: true, reason: null };
/** A machine whose host runner works: what root sees here. */
const rooted: MachineProbe = {
  host: { runner: 'host', kernel, progTypes: { tc: works, syscall: works, fentry: works, 'fentry.s': works }, problems: [] },
  profile: '6.18.44-v1045',
};
const NO_CAPS = 'no CAP_BPF/CAP_PERFMON: run as root or grant CAP_BPF+CAP_PERFMON';
function unprivileged(profile: MachineProbe['profile']): MachineProbe {
  const no = { ok: false, reason: NO_CAPS };
  const host: RunnerCapabilities = { runner: 'host', kernel, progTypes: { tc: no, syscall: no, fentry: no, 'fentry.s': no }, problems: [NO_CAPS] };
  return { host, profile };
}

const ctx = { command: 'run', now: new Date('2026-11-25T00:00:00Z'), randomSeed: 7, formatNames: ['jsonl'], cwd: '/w', repoRoot: '/r', machine: rooted };

describe('resolveConfig default runner', () => {
  it('should take the host runner when it works here, and say so', () => {
    const cfg = resolveConfig({}, ctx);
    expect(cfg).toMatchObject({ runner: 'host', kernels: ['host'] });
    expect(cfg.runnerChosen).toBe('runner host: the host runner works here (kernel 6.18.44-fc-v1045)');
  });

  it('should take the emulator with the profile of this kernel when the host runner is unavailable, naming why', () => {
    const cfg = resolveConfig({}, { ...ctx, machine: unprivileged('6.18.44-v1045') });
    expect(cfg).toMatchObject({ runner: 'emulator', kernels: ['6.18.44-v1045'] });
    expect(cfg.runnerChosen).toBe(`runner emulator (profile 6.18.44-v1045, modelling this kernel, 6.18.44-fc-v1045): the host runner is unavailable: ${NO_CAPS}`);
  });

  it('should take the default profile when no profile models this kernel', () => {
    const choice = defaultRunner(unprivileged(null));
    expect(choice).toMatchObject({ runner: 'emulator', kernel: '6.18.44' });
    expect(choice.why).toContain('the default: no profile models kernel 6.18.44-fc-v1045');
  });

  it('should not take the host runner when privileges are there but no program type loads', () => {
    const no = { ok: false, reason: 'BPF_PROG_LOAD: Operation not permitted' };
    const host = { ...rooted.host, progTypes: { tc: no, syscall: no, fentry: no, 'fentry.s': no } };
    expect(defaultRunner({ host, profile: null })).toMatchObject({ runner: 'emulator', why: expect.stringContaining('BPF_PROG_LOAD: Operation not permitted') });
  });

  it('should refuse a kernel option without --runner on any machine: its meaning depends on the runner', () => {
    for (const machine of [rooted, unprivileged('6.18.44-v1045')]) {
      for (const opts of [{ kernel: '6.12' }, { kernels: '6.12,7.3' }, { lanes: '2' }]) {
        const e = errorOf(() => resolveConfig(opts, { ...ctx, machine }));
        expect(e).toMatchObject({ code: 'KPTR_USAGE' });
        expect(String((e as Error).message)).toMatch(/^--(kernels?|lanes) needs --runner: without it the runner depends on the machine/);
      }
    }
  });

  it('should keep a given runner without probing', () => {
    const { machine: _, ...unprobed } = ctx;
    expect(resolveConfig({ runner: 'host' }, unprobed)).toMatchObject({ runner: 'host', runnerChosen: null });
    expect(resolveConfig({ runner: 'emulator' }, unprobed).kernels).toEqual(['6.18.44']);
  });
});

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

describe('resolveConfig --seed', () => {
  it('should take every 32-bit seed as given, the largest included', () => {
    expect(resolveConfig({ seed: '0' }, ctx).seed).toBe(0);
    expect(resolveConfig({ seed: '4294967295' }, ctx).seed).toBe(4294967295);
    expect(resolveConfig({}, ctx).seed).toBe(7);
  });

  it('should refuse a seed fast-check would wrap or mangle, with one line naming the range', () => {
    // 4294967297 would silently be seed 1; 1e23 printed ids like s1e+23_0
    for (const seed of ['4294967296', '4294967297', '99999999999999999999999', '-1', '1.5', '0x10', '']) {
      const e = errorOf(() => resolveConfig({ seed }, ctx));
      expect(e).toMatchObject({ code: 'KPTR_USAGE' });
      expect(String((e as Error).message)).toContain('0 to 4294967295');
    }
  });

  it('should leave seed and runs out of the summary of commands that generate nothing', () => {
    expect(resolveConfig({}, { ...ctx, command: 'selftests' }).runs).toBe(0);
    expect(resolveConfig({ runs: '5' }, ctx).runs).toBe(5);
  });
});

describe('resolveConfig kernels', () => {
  it('should run the host runner on the host kernel and the vm runner on each named kernel', () => {
    expect(resolveConfig({}, ctx).kernels).toEqual(['host']);
    expect(resolveConfig({ runner: 'vm', kernel: '6.12' }, ctx).kernels).toEqual(['6.12']);
    expect(resolveConfig({ runner: 'vm', kernels: '6.12, 7.3,/img/bz' }, ctx).kernels).toEqual(['6.12', '7.3', '/img/bz']);
  });

  it('should refuse vm-only options on the host runner instead of ignoring them', () => {
    for (const opts of [{ kernel: '6.1' }, { kernels: 'bogus' }, { kernels: ',' }, { lanes: '2' }]) {
      const e = errorOf(() => resolveConfig({ runner: 'host', ...opts }, ctx));
      expect(e).toMatchObject({ code: 'KPTR_USAGE' });
      expect(String((e as Error).message)).toMatch(/^--(kernels?|lanes) applies to the vm runner only/);
    }
  });

  it('should refuse a kernel list with an empty or repeated name, or both --kernel and --kernels', () => {
    for (const opts of [{ kernels: ',' }, { kernels: '6.12,' }, { kernel: '' }, { kernels: '6.12,6.12' }, { kernel: '6.1', kernels: '6.12' }, {}]) {
      expect(errorOf(() => resolveConfig({ runner: 'vm', ...opts }, ctx))).toMatchObject({ code: 'KPTR_USAGE' });
    }
  });
});

describe('resolveConfig --out and --force', () => {
  it('should refuse an empty --out and keep --force off unless given', () => {
    expect(errorOf(() => resolveConfig({ out: '' }, ctx))).toMatchObject({ code: 'KPTR_USAGE' });
    // relative to the working directory, made absolute (the VM runner builds its initramfs from another directory)
    expect(resolveConfig({ out: 'o' }, ctx)).toMatchObject({ outDir: '/w/o', workDir: '/w/o/.work', force: false });
    expect(resolveConfig({ out: '/abs/o' }, ctx).outDir).toBe('/abs/o');
    expect(resolveConfig({ out: 'o', force: true }, ctx).force).toBe(true);
  });
});

describe('resolveConfig --with-emulator', () => {
  it('should compare the host or vm runner with the emulator, and refuse it on the emulator runner', () => {
    const { machine: _, ...unprobed } = ctx;
    expect(resolveConfig({ runner: 'host', withEmulator: true }, unprobed).withEmulator).toBe(true);
    expect(resolveConfig({ runner: 'vm', kernel: '6.12', withEmulator: true }, unprobed).withEmulator).toBe(true);
    expect(resolveConfig({ runner: 'host' }, unprobed).withEmulator).toBe(false);
    const e = errorOf(() => resolveConfig({ runner: 'emulator', withEmulator: true }, unprobed));
    expect(e).toMatchObject({ code: 'KPTR_USAGE', message: expect.stringContaining('--with-emulator compares a kernel with the emulator') });
  });
});
