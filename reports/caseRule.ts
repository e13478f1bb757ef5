import type { Prediction } from '../types/index.ts';

/**
 * The rule a case is about, for grouping (JUnit classname, failure lines): the rule of the first program the oracle
 * expects to be rejected, `valid` when every program should load, `unknown` without a prediction.
 */
export function caseRule(p: Prediction | null): string {
  if (p === null) return 'unknown';
  const rejected = p.programs.find((x) => x.verdict === 'rejected');
  return rejected?.verdict === 'rejected' ? rejected.expected.ruleId : 'valid';
}
