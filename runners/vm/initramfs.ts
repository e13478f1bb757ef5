import { chmod, copyFile, mkdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { execa } from 'execa';
import { diskFull, isNoSpace, saysNoSpace } from '../../errors/diskFull.ts';
import { GUEST, initScript } from './initScript.ts';

/** A deliberate guest failure on one case, for testing the runner's recovery (never set by the pipeline). */
/** panic the guest, hang it, or print a kernel-style `BUG:` line and then hang (a guest an Oops left stalled) */
export type GuestHook = 'panic' | 'hang' | 'bug-hang';

/** One harness run in the guest: some scenarios of one object. */
export interface InitramfsUnit {
  readonly unit: string;
  /** file name of the unit's object among `objects` */
  readonly object: string;
  /** harness plan text (runners/harnessProtocol.ts writePlan) */
  readonly plan: string;
  /** fired by /init before the harness starts, in the name of `scenarioId` (the unit's only scenario) */
  readonly hook: { readonly kind: GuestHook; readonly scenarioId: string } | null;
  /** /init pauses after the unit, so deferred splats of its teardown print before the next unit begins */
  readonly settle: boolean;
  /** memory passes after the reported one (harness `--memory`), 0 for none */
  readonly memoryPasses: number;
}

export interface InitramfsOptions {
  /** scratch directory; the tree and the archive are written under it */
  readonly workDir: string;
  readonly batchId: string;
  /** the static harness (runners/native/harness) */
  readonly harnessPath: string;
  /** a statically linked busybox */
  readonly busyboxPath?: string;
  /** compiled BPF objects: file name in the guest → path here */
  readonly objects: Readonly<Record<string, string>>;
  readonly units: readonly InitramfsUnit[];
}

/**
 * Writes a gzip'd newc cpio holding busybox, the harness, the objects, one plan per unit and /init; returns its path.
 */
export async function buildInitramfs(options: InitramfsOptions): Promise<string> {
  const archive = join(options.workDir, `initramfs-${options.batchId}.cpio.gz`);
  try {
    return await writeInitramfs(options, archive);
  } catch (e) {
    throw isNoSpace(e) || saysNoSpace(String((e as { stderr?: unknown }).stderr ?? '')) ? diskFull(archive, e) : e;
  }
}

async function writeInitramfs(options: InitramfsOptions, archive: string): Promise<string> {
  const root = join(options.workDir, `initramfs-${options.batchId}`);
  await rm(root, { recursive: true, force: true });
  for (const d of ['bin', 'dev', 'proc', 'sys', 'tmp', GUEST.dir.slice(1)]) await mkdir(join(root, d), { recursive: true });
  await copyFile(options.busyboxPath ?? '/bin/busybox', join(root, 'bin', 'busybox'));
  await copyFile(options.harnessPath, join(root, GUEST.harness.slice(1)));
  await chmod(join(root, GUEST.harness.slice(1)), 0o755);
  for (const [name, path] of Object.entries(options.objects)) await copyFile(path, join(root, GUEST.dir.slice(1), name));
  const caseLines = await Promise.all(
    options.units.map(async (u, i) => {
      await writeFile(join(root, GUEST.dir.slice(1), `${i}.plan`), u.plan);
      if (u.hook) await writeFile(join(root, GUEST.dir.slice(1), `${i}.hook`), `${u.hook.kind} ${u.hook.scenarioId}\n`);
      return `${i} ${u.unit} ${u.object} ${u.settle ? 1 : 0} ${u.memoryPasses}\n`;
    }),
  );
  await writeFile(join(root, GUEST.caseList.slice(1)), caseLines.join(''));
  await writeFile(join(root, 'init'), initScript(options.batchId), { mode: 0o755 });
  // The kernel opens /dev/console for init before devtmpfs is mounted; without the node init has no stdio.
  await execa('mknod', ['-m', '600', join(root, 'dev', 'console'), 'c', '5', '1']).catch(() => {});
  await execa('sh', ['-c', `find . -print0 | cpio --null -o -H newc --quiet | gzip -1 > '${archive}'`], { cwd: root });
  await rm(root, { recursive: true, force: true });
  return archive;
}
