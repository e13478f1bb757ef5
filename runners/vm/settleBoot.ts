import type { KernelInfo, Observation, Scenario, Splat } from '../../types/index.ts';
import { parseHarnessOutput } from '../harnessProtocol.ts';
import type { Channel, ConsoleSplat } from './console.ts';

/** How a boot ended, as far as the host saw it. */
export interface BootOutcome {
  readonly channel: Channel;
  readonly splats: readonly ConsoleSplat[];
  /** the runner killed QEMU: /init never started ('boot') or a case ran too long ('case') */
  readonly timedOut: 'boot' | 'case' | null;
  /** last lines of the kernel console, for error messages when nothing better is known */
  readonly consoleTail: string;
}

export interface SettledBoot {
  /** final observations of the cases this boot decided, in channel order */
  readonly observations: readonly Observation[];
  /** cases this boot never reached: they go into the next boot */
  readonly remaining: readonly Scenario[];
}

/**
 * Turns one boot into observations (pure). Cases whose `exit` frame arrived are complete; the case that was running
 * when the guest died or hung gets the panic/hang splat and an error; cases after it were never started and are
 * handed back for another boot. When the guest died before starting any case, every case is failed: rebooting
 * the same initramfs would only die again.
 */
export function settleBoot(pending: readonly Scenario[], outcome: BootOutcome, kernel: KernelInfo): SettledBoot {
  const observations: Observation[] = [];
  const started = outcome.channel.cases;
  for (const [i, c] of started.entries()) {
    const scenario = pending.find((s) => s.id === c.scenarioId);
    if (!scenario) continue;
    const parsed = parseHarnessOutput(c.out.join('\n'), [scenario], 'vm', kernel)[0] as Observation;
    const splats: Splat[] = outcome.splats.filter((s) => s.scenarioId === scenario.id).map(toSplat);
    let error = parsed.error;
    if (c.exitStatus === null) {
      const killedBy = guestDeath(outcome, splats, i === started.length - 1);
      if (killedBy.splat) splats.push(killedBy.splat);
      error = killedBy.error;
    } else if (c.exitStatus !== 0) {
      error = { code: 'KPTR_HARNESS_CRASH', message: `the harness exited with status ${c.exitStatus}: ${c.err.join(' | ') || 'no message'}` };
    }
    observations.push({ ...parsed, error, splats });
  }
  const decided = new Set(started.map((c) => c.scenarioId));
  const rest = pending.filter((s) => !decided.has(s.id));
  if (started.length > 0 || rest.length === 0) return { observations, remaining: rest };
  const error = outcome.timedOut === 'boot'
    ? { code: 'KPTR_VM_TIMEOUT', message: `the guest did not start /init in time; console ends: ${outcome.consoleTail}` }
    : { code: 'KPTR_VM_PANIC', message: `the guest died before running any case; console ends: ${outcome.consoleTail}` };
  return { observations: rest.map((s) => failed(s, kernel, error, outcome.splats.filter((x) => x.scenarioId === null).map(toSplat))), remaining: [] };
}

/** Why a started case never finished: the guest panicked (console says so), hung (we killed it), or just stopped. */
function guestDeath(
  outcome: BootOutcome,
  ownSplats: readonly Splat[],
  last: boolean,
): { splat: Splat | null; error: { code: string; message: string } } {
  if (last && outcome.timedOut === 'case') {
    return {
      splat: { kind: 'hang', text: `no result within the case timeout; console ends:\n${outcome.consoleTail}`, during: null },
      error: { code: 'KPTR_VM_TIMEOUT', message: 'the guest stopped answering during this case (killed after the case timeout)' },
    };
  }
  const panicked = ownSplats.some((s) => s.kind === 'panic');
  return {
    splat: null,
    error: {
      code: 'KPTR_VM_PANIC',
      message: panicked ? 'the guest kernel panicked during this case' : `the guest stopped during this case; console ends: ${outcome.consoleTail}`,
    },
  };
}

function toSplat(s: ConsoleSplat): Splat {
  return { kind: s.kind, text: s.text, during: s.during };
}

function failed(s: Scenario, kernel: KernelInfo, error: { code: string; message: string }, splats: Splat[]): Observation {
  return { scenarioId: s.id, runner: 'vm', kernel, skipped: null, error, programs: [], runs: [], notRun: [], splats };
}
