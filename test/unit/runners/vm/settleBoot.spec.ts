import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import type { KernelInfo, Scenario } from '../../../../types/index.ts';
import { consoleSplats, unclosedScenarios } from '../../../../runners/kernelLog.ts';
import { parseChannel } from '../../../../runners/vm/console.ts';
import { settleBoot, type BootOutcome, type GuestUnit } from '../../../../runners/vm/settleBoot.ts';

const fixture = (name: string): string => readFileSync(new URL(`./fixtures/${name}`, import.meta.url), 'utf8');
const KERNEL: KernelInfo = { release: '6.12.117+deb13-cloud-amd64', version: '6.12.117', nrCpus: 2, machine: 'vm' };

/** The three tc programs of the captured boot (vm_before, vm_boom, vm_after); only names matter to the parser. */
function scenario(id: string): Scenario {
  return {
    id, description: id, origin: null, intent: { kind: 'valid' }, structs: [], slots: [], globals: [],
    programs: ['store', 'update', 'read'].map((n) => ({ name: `${id}_${n}`, progType: 'tc' as const, license: 'GPL' as const, vars: [], ops: [] })),
    schedule: ['store', 'update', 'read'].map((n) => ({ program: `${id}_${n}`, cpu: 0, repeat: 1 })),
  };
}

const PENDING = ['vm_before', 'vm_boom', 'vm_after'].map(scenario);
/** the captured boot ran one scenario per unit, each unit named after its scenario */
const UNITS: GuestUnit[] = PENDING.map((s) => ({ id: s.id, scenarios: [s] }));

function outcome(over: Partial<BootOutcome> = {}): BootOutcome {
  return {
    channel: parseChannel(fixture('panic-6.12.channel.log')),
    splats: consoleSplats(fixture('panic-6.12.console.log')),
    unclosed: unclosedScenarios(fixture('panic-6.12.console.log')),
    timedOut: null,
    consoleLog: '/out/.work/vm-6.12/boot0.console.log',
    ...over,
  };
}

describe('settleBoot', () => {
  it('should finish the cases before a panic, fail the panicking one and hand back the rest', () => {
    const { observations, remaining } = settleBoot(UNITS, outcome(), KERNEL);
    expect(observations.map((o) => [o.scenarioId, o.error?.code ?? null, o.splats.map((s) => s.kind)])).toEqual([
      ['vm_before', null, []],
      ['vm_boom', 'KPTR_VM_PANIC', ['panic']],
    ]);
    expect(observations[0]?.runs.at(-1)?.globals).toEqual({ vm_before_cpu0_field_d: '2', vm_before_sum_field_c: '1' });
    expect(remaining.map((s) => s.id)).toEqual(['vm_after']);
  });

  it('should call the open case hung when the runner killed the guest on the case timeout', () => {
    const { observations } = settleBoot(UNITS, outcome({ splats: [], timedOut: 'case' }), KERNEL);
    expect(observations[1]?.error?.code).toBe('KPTR_VM_TIMEOUT');
    expect(observations[1]?.splats.map((s) => s.kind)).toEqual(['hang']);
  });

  it('should fail every case, not reboot forever, when the guest never started a case', () => {
    const empty = outcome({ channel: parseChannel(''), splats: [], unclosed: [], timedOut: 'boot' });
    const { observations, remaining } = settleBoot(UNITS, empty, KERNEL);
    expect(remaining).toEqual([]);
    expect(observations.map((o) => o.error?.code)).toEqual(['KPTR_VM_TIMEOUT', 'KPTR_VM_TIMEOUT', 'KPTR_VM_TIMEOUT']);
  });

  it('should point at the console log file, never copy the guest console into what it reports', () => {
    const log = outcome().consoleLog;
    const dead = settleBoot(UNITS, outcome({ channel: parseChannel(''), splats: [], unclosed: [], timedOut: null }), KERNEL);
    expect(dead.observations[0]?.error?.message).toBe(`the guest died before running any case; kernel console: ${log}`);
    const hung = settleBoot(UNITS, outcome({ splats: [], timedOut: 'case' }), KERNEL);
    expect(hung.observations[1]?.splats.at(-1)?.text).toBe(`no result within the case timeout; kernel console: ${log}`);
  });

  it('should report a nonzero harness exit as a harness crash', () => {
    const text = '@@KPTR 1 begin b\n@@KPTR 2 case vm_before\n@@KPTR 3 err harness: cannot open object\n@@KPTR 4 exit vm_before 1\n@@KPTR 5 end b\n';
    const { observations } = settleBoot(UNITS.slice(0, 1), outcome({ channel: parseChannel(text), splats: [], unclosed: [] }), KERNEL);
    expect(observations[0]?.error).toEqual({ code: 'KPTR_HARNESS_CRASH', message: 'the harness exited with status 1: harness: cannot open object' });
  });

  describe('with several scenarios in one unit', () => {
    const unit: GuestUnit = { id: 'u0', scenarios: PENDING };
    /** the unit's harness wrote its kernel line, then the guest died; the console markers say where */
    const died = (unclosed: string[]): BootOutcome => outcome({
      channel: parseChannel('@@KPTR 1 begin b\n@@KPTR 2 case u0\n@@KPTR 3 out {"ev":"kernel","release":"6.12.117","nr_cpus":2}\n'),
      unclosed,
    });

    it('should charge the scenario the markers leave open and hand back the others for the next boot', () => {
      const { observations, remaining, isolate } = settleBoot([unit], died(['vm_boom']), KERNEL);
      expect(observations.map((o) => [o.scenarioId, o.error?.code, o.splats.map((s) => s.kind)])).toEqual([['vm_boom', 'KPTR_VM_PANIC', ['panic']]]);
      expect(remaining.map((s) => s.id)).toEqual(['vm_before', 'vm_after']);
      expect(isolate).toEqual([]);
    });

    it('should split the unit into scenarios run alone when no marker names the culprit', () => {
      const { observations, remaining, isolate } = settleBoot([unit], died([]), KERNEL);
      expect(observations).toEqual([]);
      expect(remaining.map((s) => s.id)).toEqual(['vm_before', 'vm_boom', 'vm_after']);
      expect(isolate).toEqual(['vm_before', 'vm_boom', 'vm_after']);
    });

    it('should charge a harness killed mid-unit (an Oops) to the open scenario as a crash', () => {
      const text = '@@KPTR 1 begin b\n@@KPTR 2 case u0\n@@KPTR 3 exit u0 139\n@@KPTR 4 end b\n';
      const { observations, remaining } = settleBoot([unit], outcome({ channel: parseChannel(text), unclosed: ['vm_after'] }), KERNEL);
      expect(observations.map((o) => [o.scenarioId, o.error?.code])).toEqual([['vm_after', 'KPTR_HARNESS_CRASH']]);
      expect(remaining.map((s) => s.id)).toEqual(['vm_before', 'vm_boom']);
    });
  });
});
