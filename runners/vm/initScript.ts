import { FRAME_TAG } from './console.ts';

/** The name QEMU gives the guest's virtio channel port (the port's name file under /sys/class/virtio-ports). */
export const VIRTIO_PORT_NAME = 'kptr.channel';

/** Pause after a unit expected to splat: RCU callbacks that free its maps' objects run within it, even under TCG. */
const SETTLE_SECONDS = 1;

/** Where things live inside the guest's initramfs. */
export const GUEST = {
  harness: '/bin/harness',
  /** one line per unit: `<index> <unit id> <object file name> <settle: 1 pauses after the unit> <memory passes>` */
  caseList: '/kptr/cases',
  /** `/kptr/<index>.plan`, objects as `/kptr/<object file name>`, test hooks as `/kptr/<index>.hook` (`<panic|hang> <scenario>`) */
  dir: '/kptr',
} as const;

/**
 * The guest's /init (busybox ash). It runs one harness process per unit (the scenarios of one object), so the
 * vmlinux BTF parse and object open that cost ~1 s under TCG are paid once per unit, not per scenario. The harness
 * brackets each scenario with kmsg markers (--kmsg-markers), which name on the console the scenario a splat, a
 * panic or a hang belongs to. A `<index>.hook` file (`panic <scenario>` or `hang <scenario>`) stands in for a
 * kernel that dies or stops on that scenario; the runner writes one only when a test asks for it.
 */
export function initScript(batchId: string): string {
  return `#!/bin/busybox sh
/bin/busybox --install -s /bin
export PATH=/bin
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev
mount -t debugfs debugfs /sys/kernel/debug 2>/dev/null
mount -t tracefs tracefs /sys/kernel/tracing 2>/dev/null
mount -t bpf bpf /sys/fs/bpf
mount -t tmpfs tmp /tmp
# the owners of cgroup storage (owner_exit): the harness makes a cgroup per owner in the cgroup2 hierarchy
mkdir -p /sys/fs/cgroup && mount -t cgroup2 cgroup2 /sys/fs/cgroup 2>/dev/null
# A second ftrace user on bpf_fentry_test1 (the function tracer, recording nothing) keeps its call site on ftrace's
# list caller, so attaching or detaching a scenario's fentry program only swaps the direct trampoline: no text poke
# of the call site, no RCU-tasks wait. Measured under TCG, attach + detach: 6.1 27 -> 8 ms, 6.12 30 -> 10 ms,
# 7.3 40 -> 12 ms. A speed-up only: a kernel without tracefs runs the same programs the same way.
t=/sys/kernel/tracing
echo bpf_fentry_test1 > $t/set_ftrace_filter 2>/dev/null && echo function > $t/current_tracer 2>/dev/null && echo 0 > $t/tracing_on
# 'quiet' keeps the boot short; from here on WARN-level reports and our kmsg markers must reach the console.
echo 7 > /proc/sys/kernel/printk
# The channel: the virtio port QEMU names kptr.channel when the kernel has virtio console built in (no baud rate),
# else ttyS1, which QEMU paces at 115200 baud (~11 KB/s: slower than the harness on a big unit).
chan=/dev/ttyS1
for p in /sys/class/virtio-ports/*; do
  [ "$(cat $p/name 2>/dev/null)" = ${VIRTIO_PORT_NAME} ] && chan=/dev/\${p##*/}
done
[ "$chan" = /dev/ttyS1 ] && stty -F /dev/ttyS1 raw -echo 2>/dev/null
set -o pipefail
seq=0
frame() {
  seq=$((seq + 1))
  echo "${FRAME_TAG} $seq $*" > "$chan"
}
# Frames a stream line by line. It runs at the end of a pipe (a subshell), so the last sequence number comes
# back through /tmp/seq.
frame_stream() {
  awk -v seq="$seq" -v kind="$1" '{ seq++; print "${FRAME_TAG} " seq " " kind " " $0; fflush() } END { print seq > "/tmp/seq" }' > "$chan"
}
frame begin ${batchId}
while read -r idx unit obj settle passes; do
  frame case "$unit"
  if [ -f ${GUEST.dir}/$idx.hook ]; then
    read -r hook hooked < ${GUEST.dir}/$idx.hook
    echo "kptr-conform: begin $hooked" > /dev/kmsg
    [ "$hook" = panic ] && echo c > /proc/sysrq-trigger
    [ "$hook" = bug-hang ] && echo "BUG: kptr-conform test hook: stalled after an oops" > /dev/kmsg
    [ "$hook" = hang ] || [ "$hook" = bug-hang ] && while :; do sleep 3600; done
  fi
  ${GUEST.harness} run ${GUEST.dir}/$obj ${GUEST.dir}/$idx.plan --kmsg-markers --kmsg-watch --memory "$passes" </dev/null 2>/tmp/err | frame_stream out
  status=$?
  seq=$(cat /tmp/seq)
  frame_stream err < /tmp/err
  seq=$(cat /tmp/seq)
  frame exit "$unit" "$status"
  [ "$settle" = 1 ] && sleep ${SETTLE_SECONDS}
done < ${GUEST.caseList}
frame end ${batchId}
poweroff -f
`;
}
