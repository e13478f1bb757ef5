import { KptrError } from '../../errors/KptrError.ts';

/** The KptrError `fn` throws; anything else thrown is rethrown, and not throwing at all is an error. */
export function errorOf(fn: () => unknown): KptrError {
  try {
    fn();
  } catch (e) {
    if (e instanceof KptrError) return e;
    throw e;
  }
  throw new Error('expected a KptrError');
}
