// The only module other folders import from types/.
export type * from './scenario.ts';
export { endsHoldingNothing, inSlotMap, isLocalStorage, isRunStep, isSleepable, stepKind, stepRuns } from './scenario.ts';
export type * from './kernel.ts';
export type * from './divergenceProbe.ts';
export type * from './observation.ts';
export type * from './plan.ts';
export type * from './spec.ts';
export type * from './prediction.ts';
export type * from './result.ts';
export type * from './mapOp.ts';
export { mapOpLock } from './mapOp.ts';
export type * from './opKfuncs.ts';
export { opKfuncs } from './opKfuncs.ts';
export type * from './statePair.ts';
export { STATE_PAIR_OPS, STATE_PAIR_STATES, statePairKey } from './statePair.ts';
