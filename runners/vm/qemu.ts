import { access, open, readFile, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { execa, type ResultPromise } from 'execa';
import { childStopped, Interrupted } from '../../errors/interrupted.ts';
import { KptrError } from '../../errors/KptrError.ts';
import { hasFatalLine } from '../kernelLog.ts';
import { parseChannel } from './console.ts';
import { VIRTIO_PORT_NAME } from './initScript.ts';

const QEMU = 'qemu-system-x86_64';
const POLL_MS = 100;
/**
 * How long a guest may stay silent on the channel after a fatal console line (console.ts hasFatalLine) before it is
 * called dead. A harness killed by an Oops is followed by the next unit within a second; measured on 6.18.15, a
 * stalled guest went on to print RCU stalls but never another frame, and waited out the whole case timeout (120 s)
 * three times in a campaign.
 */
const FATAL_SILENCE_MS = 10_000;

export type Accel = 'kvm' | 'tcg';

export interface BootOptions {
  readonly vmlinuz: string;
  readonly initrd: string;
  /**
   * where the logs go: `<workDir>/<name>.console.log` (ttyS0), `<name>.channel.log` (the virtio channel port) and
   * `<name>.channel-serial.log` (ttyS1, the channel of kernels without built-in virtio console)
   */
  readonly workDir: string;
  readonly name: string;
  readonly accel: Accel;
  readonly memoryMb?: number;
  readonly cpus?: number;
  /** from QEMU start until /init's `begin` frame */
  readonly bootTimeoutMs: number;
  /** from a `case` frame until its `exit` frame */
  readonly caseTimeoutMs: number;
  /** stops the boot (RunHooks.signal): QEMU is killed and bootVm rejects with the reason */
  readonly signal?: AbortSignal;
}

export interface BootResult {
  /** kernel console (ttyS0) */
  readonly console: string;
  /** the file it was written to */
  readonly consoleLog: string;
  /** framed results (whichever channel /init used) */
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

/** The files one boot writes. */
export interface BootLogs {
  readonly console: string;
  readonly channel: string;
  readonly serialChannel: string;
}

function bootLogs(o: BootOptions): BootLogs {
  return {
    console: join(o.workDir, `${o.name}.console.log`),
    channel: join(o.workDir, `${o.name}.channel.log`),
    serialChannel: join(o.workDir, `${o.name}.channel-serial.log`),
  };
}

/** The channel text of a boot: the virtio port's when /init framed anything there, else ttyS1's. */
async function readChannel(logs: BootLogs): Promise<string> {
  const [virtio, serial] = await Promise.all([logs.channel, logs.serialChannel].map((f) => readFile(f, 'utf8').catch(() => '')));
  return (virtio as string).length > 0 ? (virtio as string) : (serial as string);
}

/** QEMU arguments for one boot; the guest's reboot (a panic with panic=-1) ends QEMU because of -no-reboot. */
export function qemuArgs(o: BootOptions, logs: BootLogs): string[] {
  // thread=single: multi-threaded TCG races with the kernel's cross-CPU code patching (text_poke_bp: alternatives,
  // static keys, BPF trampolines), a vCPU running a stale int3. Measured on 6.12: 1 boot in 50 died of
  // "Oops: int3" in sched_clock_cpu with thread=multi, 0 in 80 with thread=single; campaign throughput is the same
  // (2,000 tc/syscall cases 65 vs 67 cases/s, 1,000 mixed 23 vs 23): the guest harness is single-threaded.
  const accel = o.accel === 'kvm' ? ['-accel', 'kvm', '-cpu', 'host'] : ['-accel', 'tcg,thread=single', '-cpu', 'max'];
  return [
    ...accel,
    '-m', String(o.memoryMb ?? 1024),
    '-smp', String(o.cpus ?? 2),
    '-nographic', '-monitor', 'none', '-no-reboot',
    '-kernel', o.vmlinuz,
    '-initrd', o.initrd,
    // devkmsg=on: /dev/kmsg writes are rate-limited to 10 per 5 s by default, and the harness writes a marker pair per scenario.
    // no_timer_check: a TCG guest starved by a loaded host failed the IO-APIC timer check ("Kernel panic - not syncing:
    // IO-APIC + timer doesn't work!", both boots of 2 replays in 30 on 2026-12-02, load 30-40 on 2 cores); VMs skip it
    '-append', 'console=ttyS0 quiet panic=-1 rdinit=/init printk.devkmsg=on no_timer_check',
    // QEMU paces its 16550 at baudbase/divisor: 115200 baud is ~11 KB/s, and the kernel console (with the harness's
    // kmsg markers, four lines a scenario) waits for it. A baudbase 1000 times higher takes the pacing away.
    '-global', 'isa-serial.baudbase=115200000',
    '-serial', `file:${logs.console}`,
    '-serial', `file:${logs.serialChannel}`,
    '-device', 'virtio-serial-pci,id=vser',
    '-chardev', `file,id=kptrch,path=${logs.channel}`,
    '-device', `virtserialport,bus=vser.0,chardev=kptrch,name=${VIRTIO_PORT_NAME}`,
  ];
}

/**
 * Boots one guest and waits for it to power off. Kills QEMU when /init does not start within `bootTimeoutMs` or
 * a running unit sends nothing for `caseTimeoutMs` (the guest is then hung, or too slow to be useful).
 */
export async function bootVm(o: BootOptions): Promise<BootResult> {
  const logs = bootLogs(o);
  await Promise.all(Object.values(logs).map((f) => rm(f, { force: true })));
  const started = Date.now();
  let child: ResultPromise;
  try {
    child = execa(QEMU, qemuArgs(o, logs), { reject: false, stdin: 'ignore', stdout: 'ignore', cancelSignal: o.signal });
  } catch (cause) {
    throw new KptrError('KPTR_QEMU_MISSING', `cannot start ${QEMU}`, 'install qemu-system-x86 (scripts/setup.sh)', { cause });
  }
  let bootMs: number | null = null;
  let timedOut: BootResult['timedOut'] = null;
  let size = 0;
  let lastProgress = started;
  let consoleSeen = 0;
  let fatalAt: number | null = null;
  // Progress is the channel growing (stat, not parse: a channel grows to megabytes and is polled 10 times a second).
  // /init frames `begin` first, so a channel that stays empty means the guest never reached /init; one that stops
  // growing means a unit is stuck: a unit runs many scenarios, so its length alone says nothing.
  const watch = setInterval(() => {
    const sizes = Promise.all([logs.channel, logs.serialChannel].map((f) => stat(f).then((x) => x.size, () => 0)));
    // the console is read only until the first fatal line: after that only the channel's silence matters
    const fresh = fatalAt === null ? consoleSince(logs.console, consoleSeen) : Promise.resolve(null);
    void Promise.all([sizes, fresh]).then(([channelSizes, appended]) => {
      const now = Date.now();
      const grown = Math.max(...channelSizes);
      if (grown > 0 && bootMs === null) bootMs = now - started;
      if (grown !== size) {
        size = grown;
        lastProgress = now;
      }
      if (appended !== null) {
        consoleSeen = appended.end;
        if (hasFatalLine(appended.text)) fatalAt = now;
      }
      const deadQuiet = fatalAt !== null && now - Math.max(fatalAt, lastProgress) > FATAL_SILENCE_MS;
      if (grown === 0 && now - started > o.bootTimeoutMs) timedOut = 'boot';
      else if (grown > 0 && (now - lastProgress > o.caseTimeoutMs || deadQuiet)) timedOut = 'case';
      if (timedOut) child.kill('SIGKILL');
    });
  }, POLL_MS);
  const result = await child.finally(() => clearInterval(watch));
  // a guest stopped with the run (QEMU itself ends cleanly on the terminal's SIGINT/SIGTERM) says nothing of its cases
  const bySignal = /terminating on signal (2|15)\b/.exec(String(result.stderr ?? ''))?.[1];
  const stopped = childStopped(result, o.signal) ?? (bySignal === undefined ? null : new Interrupted(bySignal === '2' ? 'SIGINT' : 'SIGTERM'));
  if (stopped) throw stopped;
  if ('code' in result && result.code === 'ENOENT') {
    throw new KptrError('KPTR_QEMU_MISSING', `${QEMU} is not installed`, 'install qemu-system-x86 (scripts/setup.sh)');
  }
  const [consoleText, channelText] = await Promise.all([readFile(logs.console, 'utf8').catch(() => ''), readChannel(logs)]);
  if (bootMs === null && parseChannel(channelText).batch !== null) bootMs = Date.now() - started;
  return {
    console: consoleText,
    consoleLog: logs.console,
    channel: channelText,
    exitCode: timedOut ? null : (result.exitCode ?? null),
    timedOut,
    bootMs,
    wallMs: Date.now() - started,
    stderr: String(result.stderr ?? ''),
  };
}

/** The console text written since byte `from` (whole lines only), and where it ends. */
async function consoleSince(path: string, from: number): Promise<{ readonly text: string; readonly end: number } | null> {
  const size = await stat(path).then((x) => x.size, () => 0);
  if (size <= from) return null;
  const handle = await open(path, 'r');
  try {
    const buf = Buffer.alloc(size - from);
    await handle.read(buf, 0, buf.length, from);
    const text = buf.toString('latin1');
    const cut = text.lastIndexOf('\n') + 1;
    return cut === 0 ? null : { text: text.slice(0, cut), end: from + cut };
  } finally {
    await handle.close();
  }
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
