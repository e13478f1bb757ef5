import { access, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { execa, type ResultPromise } from 'execa';
import { KptrError } from '../../errors/KptrError.ts';
import { parseChannel } from './console.ts';

const QEMU = 'qemu-system-x86_64';
const POLL_MS = 100;

export type Accel = 'kvm' | 'tcg';

export interface BootOptions {
  readonly vmlinuz: string;
  readonly initrd: string;
  /** where the serial logs go: `<workDir>/<name>.console.log` (ttyS0) and `<name>.channel.log` (ttyS1) */
  readonly workDir: string;
  readonly name: string;
  readonly accel: Accel;
  readonly memoryMb?: number;
  readonly cpus?: number;
  /** from QEMU start until /init's `begin` frame */
  readonly bootTimeoutMs: number;
  /** from a `case` frame until its `exit` frame */
  readonly caseTimeoutMs: number;
}

export interface BootResult {
  /** kernel console (ttyS0) */
  readonly console: string;
  /** framed results (ttyS1) */
  readonly channel: string;
  /** QEMU's exit code; null when we killed it */
  readonly exitCode: number | null;
  /** why we killed QEMU, or null */
  readonly timedOut: 'boot' | 'case' | null;
  /** QEMU start → first frame on the channel (null if none came) */
  readonly bootMs: number | null;
  readonly wallMs: number;
  readonly stderr: string;
}

/** QEMU arguments for one boot; the guest's reboot (a panic with panic=-1) ends QEMU because of -no-reboot. */
export function qemuArgs(o: BootOptions, consoleLog: string, channelLog: string): string[] {
  const accel = o.accel === 'kvm' ? ['-accel', 'kvm', '-cpu', 'host'] : ['-accel', 'tcg,thread=multi', '-cpu', 'max'];
  return [
    ...accel,
    '-m', String(o.memoryMb ?? 1024),
    '-smp', String(o.cpus ?? 2),
    '-nographic', '-monitor', 'none', '-no-reboot',
    '-kernel', o.vmlinuz,
    '-initrd', o.initrd,
    '-append', 'console=ttyS0 quiet panic=-1 rdinit=/init',
    '-serial', `file:${consoleLog}`,
    '-serial', `file:${channelLog}`,
  ];
}

/**
 * Boots one guest and waits for it to power off. Kills QEMU when /init does not start within `bootTimeoutMs` or
 * a case runs longer than `caseTimeoutMs` (the guest is then hung, or too slow to be useful).
 */
export async function bootVm(o: BootOptions): Promise<BootResult> {
  const consoleLog = join(o.workDir, `${o.name}.console.log`);
  const channelLog = join(o.workDir, `${o.name}.channel.log`);
  await Promise.all([rm(consoleLog, { force: true }), rm(channelLog, { force: true })]);
  const started = Date.now();
  let child: ResultPromise;
  try {
    child = execa(QEMU, qemuArgs(o, consoleLog, channelLog), { reject: false, stdin: 'ignore', stdout: 'ignore' });
  } catch (cause) {
    throw new KptrError('KPTR_QEMU_MISSING', `cannot start ${QEMU}`, 'install qemu-system-x86 (scripts/setup.sh)', { cause });
  }
  let bootMs: number | null = null;
  let timedOut: BootResult['timedOut'] = null;
  let casesSeen = 0;
  let caseStarted = started;
  const watch = setInterval(() => {
    void readFile(channelLog, 'utf8').then(
      (text) => {
        const now = Date.now();
        const ch = parseChannel(text);
        if (ch.batch !== null && bootMs === null) bootMs = now - started;
        if (ch.cases.length !== casesSeen) {
          casesSeen = ch.cases.length;
          caseStarted = now;
        }
        const open = ch.cases.at(-1)?.exitStatus === null;
        if (ch.batch === null && now - started > o.bootTimeoutMs) timedOut = 'boot';
        else if (open && !ch.ended && now - caseStarted > o.caseTimeoutMs) timedOut = 'case';
        if (timedOut) child.kill('SIGKILL');
      },
      () => {
        if (Date.now() - started > o.bootTimeoutMs) {
          timedOut = 'boot';
          child.kill('SIGKILL');
        }
      },
    );
  }, POLL_MS);
  const result = await child.finally(() => clearInterval(watch));
  if ('code' in result && result.code === 'ENOENT') {
    throw new KptrError('KPTR_QEMU_MISSING', `${QEMU} is not installed`, 'install qemu-system-x86 (scripts/setup.sh)');
  }
  const [consoleText, channelText] = await Promise.all([
    readFile(consoleLog, 'utf8').catch(() => ''),
    readFile(channelLog, 'utf8').catch(() => ''),
  ]);
  if (bootMs === null && parseChannel(channelText).batch !== null) bootMs = Date.now() - started;
  return {
    console: consoleText,
    channel: channelText,
    exitCode: timedOut ? null : (result.exitCode ?? null),
    timedOut,
    bootMs,
    wallMs: Date.now() - started,
    stderr: String(result.stderr ?? ''),
  };
}

let accelProbe: Promise<Accel> | null = null;

/**
 * KVM if a guest really boots with it here, else TCG. /dev/kvm existing is not enough: nested KVM may abort on an
 * MSR or kill the guest early. The probe boots `vmlinuz` without an initramfs; reaching the "VFS: Unable to mount
 * root fs" panic proves the guest ran. Computed once per process.
 */
export function probeAccel(vmlinuz: string, workDir: string): Promise<Accel> {
  accelProbe ??= kvmBoots(vmlinuz, workDir).then((ok) => (ok ? 'kvm' : 'tcg'));
  return accelProbe;
}

async function kvmBoots(vmlinuz: string, workDir: string): Promise<boolean> {
  if (!(await access('/dev/kvm').then(() => true, () => false))) return false;
  const log = join(workDir, 'kvm-probe.console.log');
  await rm(log, { force: true });
  const args = ['-accel', 'kvm', '-cpu', 'host', '-m', '256', '-nographic', '-monitor', 'none', '-no-reboot',
    '-kernel', vmlinuz, '-append', 'console=ttyS0 panic=-1', '-serial', `file:${log}`];
  await execa(QEMU, args, { reject: false, timeout: 20_000, stdin: 'ignore' });
  const text = await readFile(log, 'utf8').catch(() => '');
  return /Kernel panic - not syncing: VFS/.test(text);
}
