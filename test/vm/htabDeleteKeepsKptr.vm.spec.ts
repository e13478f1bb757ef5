/**
 * The regression scenarios of divergence htab_delete_keeps_percpu_kptr (hdk, and hdka, which tells a kept-alive old
 * object from reused memory) replayed in a 7.3 guest. Whether the kernel keeps the object in the re-added element is
 * the kernel's business (a fixed build does not): the test reads what the guest observed and checks that the tool
 * says so, the known divergence (and nothing unexplained) when a check run found the field set, "as predicted" when not.
 */
import { mkdtemp, readFile, copyFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import type { CaseResult, Observation } from '../../types/index.ts';
import { kptrConform } from '../helpers/cli.ts';
import { needsKernelImage } from '../helpers/needs.ts';

const KERNEL = '7.3';
const FILES = ['htab_delete_keeps_percpu_kptr.yaml', 'htab_delete_keeps_percpu_kptr_alive.yaml'];
/** the runs that re-add key 0 and return 2 when its field is set (1 when NULL) */
const CHECKS: Readonly<Record<string, string>> = { hdk: 'hdk_check', hdka: 'hdka_read' };

describe('replay of the htab_delete_keeps_percpu_kptr regression scenarios in a guest', () => {
  it(`should report the known divergence when ${KERNEL} keeps the object in the re-added element, and as predicted when not`, async (ctx) => {
    await needsKernelImage(ctx, KERNEL);
    const corpus = await mkdtemp(join(tmpdir(), 'kptr-hdk-corpus-'));
    for (const f of FILES) await copyFile(fileURLToPath(new URL(`../../specs/regressions/${f}`, import.meta.url)), join(corpus, f));
    const out = await mkdtemp(join(tmpdir(), 'kptr-hdk-'));
    const run = await kptrConform(['run', '--runner', 'vm', '--kernel', KERNEL, '--runs', '0', '--corpus', corpus, '--lanes', '1', '--out', out, '--quiet']);
    const lines = (await readFile(join(out, 'results.jsonl'), 'utf8')).trim().split('\n').map((l) => JSON.parse(l) as { observation: Observation; result: CaseResult });
    expect(lines.map((l) => l.result.scenarioId).sort()).toEqual(['hdk', 'hdka']);
    for (const { observation, result } of lines) {
      expect(observation.error).toBeNull();
      const checks = observation.runs.filter((r) => r.program === CHECKS[result.scenarioId]);
      expect(checks.length).toBeGreaterThan(0);
      expect(checks.every((r) => r.err === null && (r.retval === 1 || r.retval === 2))).toBe(true);
      const kept = checks.some((r) => r.retval === 2);
      console.log(`${KERNEL} ${result.scenarioId}: ${checks.map((r) => `step ${r.step} retval ${r.retval}${r.globals.hdka_seen === undefined ? '' : ` hdka_seen ${r.globals.hdka_seen}`}`).join(', ')}`);
      expect([result.status, result.divergences]).toEqual(kept ? ['divergence', ['htab_delete_keeps_percpu_kptr']] : ['pass', []]);
      // what the divergence explains comes after a userspace removal: never the first program run
      expect(result.mismatches.every((m) => m.step !== null && m.step > 0)).toBe(true);
    }
    expect(run.exitCode).toBe(0);
  });
});
