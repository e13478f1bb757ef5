import type { KernelInfo, Observation, Scenario, Splat } from '../../types/index.ts';
import { parseHarnessOutput } from '../harnessProtocol.ts';
import type { ConsoleSplat } from '../kernelLog.ts';
import type { Channel, ChannelCase } from './console.ts';

/** One harness run in the guest: some scenarios of one object, in plan order. */
export interface GuestUnit {
  readonly id: string;
  readonly scenarios: readonly Scenario[];
}

/** How a boot ended, as far as the host saw it. */
export interface BootOutcome {
  readonly channel: Channel;
  readonly splats: readonly ConsoleSplat[];
  /** scenarios whose kmsg `begin` marker has no `end` (console.ts unclosedScenarios), in the order they began */
  readonly unclosed: readonly string[];
  /** the runner killed QEMU: /init never started ('boot') or a unit made no progress for too long ('case') */
  readonly timedOut: 'boot' | 'case' | null;
  /**
   * the file holding this boot's kernel console (in the run's output directory), named by error messages when
   * nothing better is known: the console itself (terminal resets, a boot loader's screen) is never put into a message
   */
  readonly consoleLog: string;
}

export interface SettledBoot {
  /** final observations of the scenarios this boot decided, in channel order */
  readonly observations: readonly Observation[];
  /** scenarios this boot did not decide: they go into the next boot */
  readonly remaining: readonly Scenario[];
  /** of `remaining`, those whose unit died with no marker naming the culprit: the next boot runs each alone */
  readonly isolate: readonly string[];
}

/**
 * Turns one boot into observations (pure). Every scenario of a unit whose harness exited 0 is complete. A unit that
 * did not exit cleanly (guest panic, hang, harness killed by an Oops) is charged to the scenario its kmsg markers
 * leave open: that one gets the splat and an error; the unit's other scenarios go into the next boot, since their
 * results may be partial. With no open marker, a unit of one scenario is charged to it and a larger unit is split
 * into units of one for the next boot. Units never started go into the next boot. When the guest died before
 * starting any unit, everything is failed: rebooting the same initramfs would only die again.
 */
export function settleBoot(units: readonly GuestUnit[], outcome: BootOutcome, kernel: KernelInfo): SettledBoot {
  const observations: Observation[] = [];
  const remaining: Scenario[] = [];
  const isolate: string[] = [];
  const started = outcome.channel.cases;
  const splatsOf = (id: string): Splat[] => outcome.splats.filter((s) => s.scenarioId === id).map(toSplat);

  for (const unit of units) {
    const at = started.findIndex((c) => c.unit === unit.id);
    const c = started[at];
    if (!c) {
      remaining.push(...unit.scenarios);
      continue;
    }
    if (c.exitStatus === 0) {
      for (const o of parseHarnessOutput(c.out.join('\n'), unit.scenarios, 'vm', kernel, `the guest's harness output of unit ${unit.id}`)) {
        observations.push({ ...o, splats: splatsOf(o.scenarioId) });
      }
      continue;
    }
    const culprit = culpritOf(unit, outcome.unclosed);
    if (!culprit) {
      remaining.push(...unit.scenarios);
      isolate.push(...unit.scenarios.map((s) => s.id));
      continue;
    }
    observations.push(charge(culprit, c, at === started.length - 1, outcome, splatsOf(culprit.id), kernel));
    remaining.push(...unit.scenarios.filter((s) => s !== culprit));
  }

  if (started.length > 0 || remaining.length === 0) return { observations, remaining, isolate };
  const error = outcome.timedOut === 'boot'
    ? { code: 'KPTR_VM_TIMEOUT', message: `the guest did not start /init in time; kernel console: ${outcome.consoleLog}` }
    : { code: 'KPTR_VM_PANIC', message: `the guest died before running any case; kernel console: ${outcome.consoleLog}` };
  const unowned = outcome.splats.filter((x) => x.scenarioId === null).map(toSplat);
  return { observations: remaining.map((s) => failed(s, kernel, error, unowned)), remaining: [], isolate: [] };
}

/** The scenario of the unit its markers leave open (the last one begun), or the unit's only scenario. */
function culpritOf(unit: GuestUnit, unclosed: readonly string[]): Scenario | null {
  const open = unclosed.filter((id) => unit.scenarios.some((s) => s.id === id)).at(-1);
  return unit.scenarios.find((s) => s.id === open) ?? (unit.scenarios.length === 1 ? (unit.scenarios[0] as Scenario) : null);
}

/** The observation of the scenario a unit died in: what the harness said of it, plus why it never finished. */
function charge(
  scenario: Scenario,
  c: ChannelCase,
  lastStarted: boolean,
  outcome: BootOutcome,
  splats: Splat[],
  kernel: KernelInfo,
): Observation {
  const parsed = parseHarnessOutput(c.out.join('\n'), [scenario], 'vm', kernel, `the guest's harness output of ${scenario.id}`)[0] as Observation;
  if (c.exitStatus !== null) {
    const message = `the harness exited with status ${c.exitStatus}: ${c.err.join(' | ') || 'no message'}`;
    return { ...parsed, error: { code: 'KPTR_HARNESS_CRASH', message }, splats };
  }
  const death = guestDeath(outcome, splats, lastStarted);
  return { ...parsed, error: death.error, splats: death.splat ? [...splats, death.splat] : splats };
}

/** Why a started scenario never finished: the guest panicked (console says so), hung (we killed it), or just stopped. */
function guestDeath(
  outcome: BootOutcome,
  ownSplats: readonly Splat[],
  last: boolean,
): { splat: Splat | null; error: { code: string; message: string } } {
  if (last && outcome.timedOut === 'case') {
    return {
      splat: { kind: 'hang', text: `no result within the case timeout; kernel console: ${outcome.consoleLog}`, during: null },
      error: { code: 'KPTR_VM_TIMEOUT', message: 'the guest stopped answering during this case (killed after the case timeout)' },
    };
  }
  const panicked = ownSplats.some((s) => s.kind === 'panic');
  return {
    splat: null,
    error: {
      code: 'KPTR_VM_PANIC',
      message: panicked ? 'the guest kernel panicked during this case' : `the guest stopped during this case; kernel console: ${outcome.consoleLog}`,
    },
  };
}

function toSplat(s: ConsoleSplat): Splat {
  return { kind: s.kind, text: s.text, during: s.during };
}

function failed(s: Scenario, kernel: KernelInfo, error: { code: string; message: string }, splats: Splat[]): Observation {
  return { scenarioId: s.id, runner: 'vm', kernel, skipped: null, error, programs: [], runs: [], mapOps: [], notRun: [], splats };
}
