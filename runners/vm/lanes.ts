import type { Scenario } from '../../types/index.ts';

/**
 * Splits compiled batches (one object each) over `lanes` guests that run side by side (pure). An object goes whole to
 * one lane, so it is shipped into one initramfs only. Each batch goes to the lane with the fewest scenarios so far;
 * batch order is kept within a lane (expected-splat batches come last in `batches`, so they stay last in each lane).
 * Returns the non-empty lanes' scenarios.
 */
export function splitLanes(batches: readonly (readonly Scenario[])[], lanes: number): Scenario[][] {
  const out: Scenario[][] = Array.from({ length: Math.max(1, Math.min(lanes, batches.length)) }, () => []);
  for (const batch of batches) {
    const lightest = out.reduce((best, lane) => (lane.length < best.length ? lane : best));
    lightest.push(...batch);
  }
  return out.filter((lane) => lane.length > 0);
}
