import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { budgetSpent } from '../../../cli/campaignBudget.ts';
import { CHECKPOINT_FILE, readCheckpoint, resumedOptions, type Checkpoint } from '../../../cli/checkpoint.ts';
import { casesToRun, shardRuns } from '../../../cli/commands/campaign.ts';
import { STREAM_VERSION } from '../../../campaign/shrink.ts';
import { durationOf, resolveConfig, shardOf } from '../../../cli/config.ts';
import { errorOf } from '../../helpers/errorOf.ts';

const ctx = { command: 'run', now: new Date('2026-11-25T00:00:00Z'), randomSeed: 7, formatNames: ['jsonl'], cwd: '/w', repoRoot: '/r' };

describe('--duration, --until-bugs, --shard', () => {
  it('should read durations in seconds, minutes and hours, and refuse anything else with one line', () => {
    expect([durationOf('90s'), durationOf('30m'), durationOf('2h')]).toEqual([90_000, 1_800_000, 7_200_000]);
    for (const bad of ['30', '0m', '1d', '-5m', '1.5h', '']) expect(errorOf(() => durationOf(bad)).code).toBe('KPTR_USAGE');
  });

  it('should generate until the time is up when --duration comes without --runs, and keep --runs when both are given', () => {
    expect(resolveConfig({ runner: 'host', duration: '30m' }, ctx)).toMatchObject({ runs: Infinity, durationMs: 1_800_000, untilBugs: null });
    expect(resolveConfig({ runner: 'host', duration: '30m', runs: '50' }, ctx).runs).toBe(50);
    expect(resolveConfig({ runner: 'host' }, ctx)).toMatchObject({ runs: 200, durationMs: null, shard: null });
    expect(resolveConfig({ runner: 'host', untilBugs: '3' }, ctx).untilBugs).toBe(3);
    expect(errorOf(() => resolveConfig({ runner: 'host', untilBugs: '0' }, ctx)).message).toMatch(/--until-bugs must be at least 1/);
  });

  it('should read k/n shards numbered from 1 and refuse the rest', () => {
    expect(shardOf('2/4')).toEqual({ k: 2, n: 4 });
    for (const bad of ['0/4', '5/4', '1/0', '1', 'a/b', '1/2/3']) expect(errorOf(() => shardOf(bad)).code).toBe('KPTR_USAGE');
  });

  it('should give each case of the stream to exactly one shard, the same one every time', () => {
    for (const n of [1, 2, 3, 4, 7]) {
      for (let i = 0; i < 100; i++) {
        const owners = Array.from({ length: n }, (_, j) => j + 1).filter((k) => shardRuns({ k, n }, i));
        expect(owners).toEqual([(i % n) + 1]);
      }
    }
    expect(shardRuns(null, 12345)).toBe(true);
  });

  it('should stop generating when the segment\'s time or the bugs are spent, and not before', () => {
    expect(budgetSpent({ segmentMs: 1000, untilBugs: null }, 999, 50)).toBeNull();
    expect(budgetSpent({ segmentMs: 1000, untilBugs: null }, 1000, 0)).toBe('duration');
    expect(budgetSpent({ segmentMs: null, untilBugs: 2 }, 1e9, 1)).toBeNull();
    expect(budgetSpent({ segmentMs: null, untilBugs: 2 }, 0, 2)).toBe('bugs');
  });
});

describe('run --resume', () => {
  const checkpoint = (over: Partial<Checkpoint> = {}): Checkpoint => ({
    version: 2, options: { runner: 'host', seed: '9', runs: '5000', mode: 'break', out: '/old/place' }, done: [], corpusDone: true,
    stream: { version: STREAM_VERSION, next: 2000 }, resultsBytes: 10, cases: 2001, elapsedMs: 5, timeline: { every: 1, samples: [] }, failing: [], complete: false, ...over,
  });
  const dirWith = (text: string | null): string => {
    const dir = mkdtempSync(join(tmpdir(), 'kptr-ckpt-'));
    if (text !== null) writeFileSync(join(dir, CHECKPOINT_FILE), text);
    return dir;
  };

  it('should refuse a directory without a checkpoint, with a damaged one, or with a complete campaign, in one line', () => {
    expect(errorOf(() => readCheckpoint(dirWith(null))).message).toMatch(/no checkpoint\.json/);
    expect(errorOf(() => readCheckpoint(dirWith('{'))).message).toMatch(/not JSON/);
    expect(errorOf(() => readCheckpoint(dirWith('{"version":7}'))).message).toMatch(/not a checkpoint/);
    expect(errorOf(() => readCheckpoint(dirWith(JSON.stringify(checkpoint({ complete: true }))))).message).toMatch(/complete/);
    expect(readCheckpoint(dirWith(JSON.stringify(checkpoint()))).stream.next).toBe(2000);
  });

  it('should refuse a checkpoint of an older seed stream in one line that says to start again, never continue it with other values', () => {
    // as checkpoints were written before value i became a function of (seed, i): the generator's state after value 1999
    const old = { ...checkpoint(), version: 1, stream: { index: 2000, state: [1, 2, 3, 4] }, failing: [{ scenarioId: 's9_7', index: 7, before: { index: 7, state: [5, 6, 7, 8] } }] };
    for (const c of [old, checkpoint({ stream: { version: STREAM_VERSION + 1, next: 2000 } })]) {
      const e = errorOf(() => readCheckpoint(dirWith(JSON.stringify(c))));
      expect(e.code).toBe('KPTR_USAGE');
      expect(e.message).not.toContain('\n');
      expect(e.message).toMatch(/seed stream version \d+, this kptr-conform draws version 2 \(the same seed gives other cases\)/);
      expect(e.hint).toMatch(/start the campaign again: the same `run` options \(--seed 9\) with --force/);
    }
  });

  it('should keep the campaign\'s options, let the budget change, and refuse an option that differs', () => {
    const c = checkpoint();
    expect(resumedOptions(c, { resume: '/new/place', duration: '10m', quiet: true }, '/new/place'))
      .toEqual({ runner: 'host', seed: '9', runs: '5000', mode: 'break', out: '/new/place', duration: '10m', quiet: true });
    // the same value typed again is no conflict
    expect(resumedOptions(c, { resume: '/d', seed: '9' }, '/d').seed).toBe('9');
    expect(errorOf(() => resumedOptions(c, { resume: '/d', seed: '10' }, '/d')).message).toMatch(/--seed 10 differs from the interrupted campaign's \(9\)/);
    expect(errorOf(() => resumedOptions(c, { resume: '/d', shard: '1/2' }, '/d')).message).toMatch(/--shard 1\/2 differs .*\(not given\)/);
    expect(errorOf(() => resumedOptions(c, { resume: '/d', out: '/elsewhere' }, '/d')).message).toMatch(/--out \/elsewhere is not the directory resumed/);
  });
});

describe('casesToRun', () => {
  it('should count the cases a shard runs (the corpus in shard 1), and none when a duration ends the run', () => {
    for (const runs of [0, 1, 7, 300]) {
      const byShard = [1, 2, 3, 4].map((k) => casesToRun({ runs, shard: { k, n: 4 } }, 5)!);
      expect(byShard.reduce((a, b) => a + b, 0)).toBe(casesToRun({ runs, shard: null }, 5));
      expect(byShard.slice(1)).toEqual([1, 2, 3].map((j) => Array.from({ length: runs }, (_, i) => i).filter((i) => i % 4 === j).length));
    }
    expect(casesToRun({ runs: Infinity, shard: null }, 5)).toBeNull();
  });
});
