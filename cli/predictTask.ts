/** The task of a thread of the campaign's prediction pool (cli/predictor.ts): the oracle's predictions of some scenarios. */
import { threadData } from '../threads/taskPool.ts';
import type { Prediction, ProbedKernel, Scenario, Spec } from '../types/index.ts';
import { predictOn } from './pipeline.ts';

export interface PredictThreadData {
  readonly kernel: ProbedKernel;
  readonly spec: Spec;
}

const { kernel, spec } = threadData<PredictThreadData>();

export default function predictScenarios(scenarios: readonly Scenario[]): Prediction[] {
  return scenarios.map((s) => predictOn(kernel, spec, s));
}
