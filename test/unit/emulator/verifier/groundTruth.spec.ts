/**
 * The ground-truth programs (research/ground-truth/progs, compiled with clang-16 as tc and syscall) against the
 * verdicts, errno and first error lines measured on each kernel (research/ground-truth/RESULTS.md), per profile.
 * The research directory lives outside the repository, in the shared folder beside the checkout (as CI lays it out):
 * KPTR_GROUND_TRUTH names another place. Without it the test is skipped with a note, and fails under CI=true.
 */
import { existsSync, readFileSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { describe, expect, it } from 'vitest';
import { loadObject } from '../../../../emulator/loader/loadObject.ts';
import { verifierProgram } from '../../../../emulator/verifier/fromLoader.ts';
import { loadProfile } from '../../../../emulator/verifier/profile.ts';
import { type VerifyResult, verifyProgram } from '../../../../emulator/verifier/verify.ts';
import { CLANG } from '../../../../compile/codegen/compileBpf.ts';
import { startInPool } from '../../../../runners/startInPool.ts';
import { REPO_ROOT } from '../../../helpers/cli.ts';
import { needs } from '../../../helpers/needs.ts';

const DIR = process.env.KPTR_GROUND_TRUTH ?? join(REPO_ROOT, '../shared/research/ground-truth');
/** RESULTS.md's kernel columns → profiles */
const PROFILES: Record<string, string> = { host: '6.18.44', '6.18vm': '6.18', '6.12': '6.12', '7.3': '7.3', '6.1': '6.1' };
const MODES = { tc: 'MODE_TC', syscall: 'MODE_SYSCALL' } as const;

interface Cell { rule: string; kernel: string; mode: keyof typeof MODES; program: string | null; want: string }

/** Every (rule, kernel, mode[, program]) cell of RESULTS.md with its verdict line, as `describe()` below prints one. */
function parseResults(text: string): Cell[] {
  const cells: Cell[] = [];
  const lines = text.split('\n');
  let rule = '';
  for (let i = 0; i < lines.length; i++) {
    const l = lines[i]!;
    if (l.startsWith('## Runtime values')) break;
    const h = /^### (\d\d_\w+)/.exec(l);
    if (h) { rule = h[1]!; continue; }
    const m = /^- \*\*(accepted|rejected \((\w+), errno -(\d+)\))\*\* on (.*?):?$/.exec(l);
    if (!m || rule === '') continue;
    const want = m[1] === 'accepted' ? 'accepted' : `rejected (${m[2]}, errno -${m[3]}) ${/^`(.*?)`/.exec(lines[i + 1]!.trim())![1]}`;
    for (const cell of m[4]!.split(', ')) {
      const c = /^([\w.]+)\/(\w+)(?:\[(\w+)\])?$/.exec(cell.trim())!;
      if (c[2] === 'tc' || c[2] === 'syscall') cells.push({ rule, kernel: c[1]!, mode: c[2], program: c[3] ?? null, want });
    }
  }
  return cells;
}

/** The result in RESULTS.md's form: the error block's lines joined by ' / ', 7.3's report line left out. */
function describeResult(r: VerifyResult): string {
  if (r.verdict === 'accepted') return 'accepted';
  if (r.verdict === 'unsupported') return `unsupported: ${r.reason} at insn ${r.insn}`;
  const block = r.log.split('\n').filter((l) => l !== '' && !l.startsWith('processed ') && !l.startsWith('Verification failed: '));
  return `rejected (${r.stage}, errno -${r.errno}) ${block.join(' / ')}`;
}

describe('verifier model on the ground truth', () => {
  it('should give each measured kernel\'s verdict, errno and first error lines (tc, syscall)', async (ctx) => {
    if (!existsSync(join(DIR, 'RESULTS.md'))) {
      const note = `needs the ground-truth research directory (KPTR_GROUND_TRUTH, default ${DIR})`;
      if (process.env.CI === 'true') throw new Error(`required (CI=true): ${note}`);
      return ctx.skip(note);
    }
    await needs(ctx, 'clang');
    const work = join(tmpdir(), `kptr-gt-${process.pid}`);
    await mkdir(work, { recursive: true });
    // the programs need only the uapi's types from vmlinux.h (map types, BPF_NOEXIST, struct bpf_spin_lock)
    await writeFile(join(work, 'vmlinux.h'), '#include <linux/types.h>\n#include <linux/bpf.h>\n');
    const cells = parseResults(readFileSync(join(DIR, 'RESULTS.md'), 'utf8'));
    const builds = [...new Set(cells.map((c) => c.rule))].flatMap((rule) => Object.entries(MODES).map(([mode, define]) => ({ rule, mode, define })));
    const compiled = startInPool(builds, 2, async (b) => {
      const out = join(work, `${b.rule}.${b.mode}.o`);
      await execa(CLANG, ['-g', '-O2', '-target', 'bpf', '-D__TARGET_ARCH_x86', `-D${b.define}`, `-I${work}`, '-I/usr/include/x86_64-linux-gnu', '-c', join(DIR, 'progs', `${b.rule}.bpf.c`), '-o', out]);
      return [`${b.rule}.${b.mode}`, loadObject(readFileSync(out), { rodata: { nr_cpus: 2 } })] as const;
    });
    const objects = new Map(await Promise.all(compiled));
    const mismatches: string[] = [];
    for (const c of cells) {
      const obj = objects.get(`${c.rule}.${c.mode}`)!;
      const prog = obj.programs.find((p) => c.program === null || p.name === c.program)!;
      const got = describeResult(verifyProgram(verifierProgram(obj, prog), loadProfile(PROFILES[c.kernel]!)));
      if (got !== c.want) mismatches.push(`${c.rule} ${c.kernel}/${c.mode}${c.program ? `[${c.program}]` : ''}: want ${c.want}, got ${got}`);
    }
    expect(cells.length).toBeGreaterThan(300);
    expect(mismatches).toEqual([]);
  }, 600_000);
});
