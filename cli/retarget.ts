import type { ProgType, Scenario } from '../types/index.ts';

/** What each tracing type becomes where the kernel refuses tracing programs: same sleepability, a type we can test-run. */
const STAND_IN: Readonly<Partial<Record<ProgType, ProgType>>> = { fentry: 'tc', 'fentry.s': 'syscall' };

/**
 * Rewrites program types the runner cannot load into stand-ins of the same sleepability (on the host: fentry → tc,
 * fentry.s → syscall), as issue "Vertical slice" asks for the upstream selftests. Scenarios needing nothing change are returned as is.
 */
export function retargetProgTypes(s: Scenario, available: Readonly<Record<ProgType, boolean>>): Scenario {
  const swap = (t: ProgType): ProgType => {
    const alt = STAND_IN[t];
    return !available[t] && alt && available[alt] ? alt : t;
  };
  if (s.programs.every((p) => swap(p.progType) === p.progType)) return s;
  return { ...s, programs: s.programs.map((p) => ({ ...p, progType: swap(p.progType) })) };
}
