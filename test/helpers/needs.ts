import { execa } from 'execa';
import { CLANG } from '../../compile/codegen/compileBpf.ts';
import { probeHost } from '../../runners/host/probe.ts';
import { listKernels, resolveKernel } from '../../runners/vm/kernelImages.ts';

/** What a test may need from the machine. */
export type Requirement = 'kernel' | 'vm' | 'clang';

/** The part of vitest's TestContext this helper uses. */
export interface SkippableContext {
  skip(note: string): void;
}

/** null when the requirement is met, else a note saying what is missing and how to get it. */
async function missing(what: Requirement): Promise<string | null> {
  if (what === 'clang') {
    const r = await execa(CLANG, ['--version'], { reject: false });
    return r.exitCode === 0 ? null : `needs ${CLANG} (run scripts/setup.sh)`;
  }
  if (what === 'kernel') {
    const caps = await probeHost();
    if (caps.problems.length > 0) return `needs root+BPF on the host: ${caps.problems.join('; ')}`;
    return caps.progTypes.tc.ok ? null : `needs tc programs on the host kernel: ${caps.progTypes.tc.reason}`;
  }
  const qemu = await execa('qemu-system-x86_64', ['--version'], { reject: false });
  if (qemu.exitCode !== 0) return 'needs qemu-system-x86_64 (run scripts/setup.sh)';
  const kernels = await listKernels();
  return kernels.length > 0 ? null : 'needs a cached kernel image (kptr-conform kernels fetch <name>)';
}

/** Requirements that must not be skipped: all under CI=true, else those listed in KPTR_REQUIRE (`kernel,vm`). */
function required(what: Requirement): boolean {
  if (process.env.CI === 'true') return true;
  return (process.env.KPTR_REQUIRE ?? '').split(/[\s,]+/).includes(what);
}

/**
 * Skips the test (with a note saying what is missing) when the machine lacks `what`, using the same probes as
 * the runners. Under CI=true, or when KPTR_REQUIRE names the requirement, a missing requirement throws instead:
 * a skip there would hide that the suite did not run.
 */
export async function needs(ctx: SkippableContext, what: Requirement): Promise<void> {
  const note = await missing(what);
  if (note === null) return;
  if (required(what)) throw new Error(`required (${process.env.CI === 'true' ? 'CI=true' : 'KPTR_REQUIRE'}): ${note}`);
  ctx.skip(note);
}

/** needs(ctx, 'vm') for one kernel image in particular (`6.12`, `6.1`), with the same skip-or-throw rule. */
export async function needsKernelImage(ctx: SkippableContext, kernel: string): Promise<void> {
  await needs(ctx, 'vm');
  if (await resolveKernel(kernel).then(() => true, () => false)) return;
  const note = `needs the ${kernel} kernel image (npx kptr-conform kernels fetch ${kernel})`;
  if (required('vm')) throw new Error(`required (${process.env.CI === 'true' ? 'CI=true' : 'KPTR_REQUIRE'}): ${note}`);
  ctx.skip(note);
}
