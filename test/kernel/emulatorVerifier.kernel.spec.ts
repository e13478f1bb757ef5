/**
 * Fidelity of the verifier model against the host kernel: the same generated scenarios (fixed seed, direct objects,
 * tc + syscall) verified by the host and by the emulator with the host's profile (its features as the host's divergence
 * probes decide) must agree on the verdict, the errno
 * and the error lines (the emulator's lines appear, in order, in the kernel's log) for at least 99.5 % of programs.
 */
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { profileForRelease } from '../../emulator/verifier/profile.ts';
import { prefixScenario } from '../../generators/prefixScenario.ts';
import { scenario } from '../../generators/scenario.ts';
import { errorLinesAgree } from '../../judge/emulatorComparison.ts';
import { generateValues } from '../../campaign/shrink.ts';
import { createEmulatorRunner } from '../../runners/emulator/index.ts';
import { createHostRunner } from '../../runners/host/index.ts';
import type { ProgramObservation } from '../../types/index.ts';
import { needs } from '../helpers/needs.ts';
import { probeDivergences, probedFeatures } from '../../cli/divergenceProbes.ts';
import { loadSpec } from '../../specs/load.ts';

const CASES = 400;
const SEED = 11;

/** Whether the emulator's rejection says what the kernel's does: same stage and errno, its error lines in order in the kernel log. */
function agrees(kernel: ProgramObservation, emu: ProgramObservation): boolean {
  if (kernel.verdict !== emu.verdict) return false;
  if (kernel.verdict === 'accepted' || emu.verdict === 'accepted') return true;
  return kernel.errnoName === emu.errnoName && kernel.stage === emu.stage && errorLinesAgree(kernel.log, emu.log);
}

describe('verifier model against the host kernel', () => {
  it(`should agree with the host on ≥ 99.5 % of the programs of ${CASES} generated scenarios (seed ${SEED})`, async (ctx) => {
    await needs(ctx, 'kernel');
    const work = await mkdtemp(join(tmpdir(), 'kptr-emu-fidelity-'));
    const host = createHostRunner({ workDir: join(work, 'host'), codegen: 'direct' });
    const caps = await host.probe();
    const kernel = caps.kernel!;
    const profile = profileForRelease(kernel.release);
    if (profile === null) return ctx.skip(`no emulator profile models ${kernel.release} (specs/profiles)`);
    // the kernel's known divergences as its probes show them (a backport keeps the version string)
    const available = { tc: caps.progTypes.tc.ok, syscall: caps.progTypes.syscall.ok, fentry: caps.progTypes.fentry.ok, 'fentry.s': caps.progTypes['fentry.s'].ok };
    const spec = loadSpec();
    const features = probedFeatures(spec, await probeDivergences({ runner: host, kernel, available, spec }));
    const emu = createEmulatorRunner({ kernel: profile, workDir: join(work, 'emu'), nrCpus: kernel.nrCpus, features });
    const scenarios = [...generateValues(scenario({ mode: 'mixed', progTypes: ['tc', 'syscall'], nrCpus: kernel.nrCpus }), SEED, CASES)]
      .map((v, i) => prefixScenario(v.value_, `ef${SEED}_${i}`));
    const cases = scenarios.map((s) => ({ scenario: s, plan: { scenarioId: s.id, expectedAccepted: [], wellFormed: false, execute: false, expectSplat: false, corruptsKernel: false } }));
    const [ho, eo] = [await host.run(cases), await emu.run(cases)];
    const disagreements: string[] = [];
    let programs = 0;
    // local storage, the cgroup's reached through the CO-RE walk: every such program agrees
    const localStorage = new Set(scenarios.filter((s) => s.slots.some((x) => x.home.kind !== 'map' && x.home.kind !== 'global')).flatMap((s) => s.programs.map((p) => p.name)));
    let localStoragePrograms = 0;
    const localStorageDisagreements: string[] = [];
    ho.forEach((h, i) => {
      const e = eo[i]!;
      expect(e.error, `${e.scenarioId}: ${e.error?.message}`).toBeNull();
      for (const hp of h.programs) {
        const ep = e.programs.find((p) => p.program === hp.program)!;
        programs++;
        if (localStorage.has(hp.program)) localStoragePrograms++;
        if (!agrees(hp, ep)) {
          const say = (p: ProgramObservation): string => (p.verdict === 'accepted' ? 'accepted' : `${p.errnoName} ${p.summary}`);
          disagreements.push(`${hp.program}: kernel ${say(hp)}; emulator (${profile}) ${say(ep)}`);
          if (localStorage.has(hp.program)) localStorageDisagreements.push(disagreements.at(-1)!);
        }
      }
    });
    expect(programs).toBeGreaterThan(CASES);
    expect(localStoragePrograms).toBeGreaterThan(20);
    expect(localStorageDisagreements).toEqual([]);
    expect(disagreements.length / programs, disagreements.join('\n')).toBeLessThanOrEqual(0.005);
  }, 600_000);
});
