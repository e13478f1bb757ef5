import { FRAME_TAG } from './console.ts';

/** Where things live inside the guest's initramfs. */
export const GUEST = {
  harness: '/bin/harness',
  /** one line per case: `<index> <scenario id> <object file name>` */
  caseList: '/kptr/cases',
  /** `/kptr/<index>.plan`, objects as `/kptr/<object file name>`, test hooks as `/kptr/<index>.hook` */
  dir: '/kptr',
} as const;

/**
 * The guest's /init (busybox ash). It runs each case as its own harness process, so a case that kills the guest
 * leaves every earlier case complete on the channel, and the kmsg brackets around it name it on the console.
 * A `<index>.hook` file holding `panic` or `hang` stands in for a kernel that dies or stops on that case; the
 * runner writes one only when a test asks for it.
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
# 'quiet' keeps the boot short; from here on WARN-level reports and our kmsg markers must reach the console.
echo 7 > /proc/sys/kernel/printk
stty -F /dev/ttyS1 raw -echo 2>/dev/null
set -o pipefail
seq=0
frame() {
  seq=$((seq + 1))
  echo "${FRAME_TAG} $seq $*" > /dev/ttyS1
}
# Frames a stream line by line. It runs at the end of a pipe (a subshell), so the last sequence number comes
# back through /tmp/seq.
frame_stream() {
  awk -v seq="$seq" -v kind="$1" '{ seq++; print "${FRAME_TAG} " seq " " kind " " $0; fflush() } END { print seq > "/tmp/seq" }' > /dev/ttyS1
}
frame begin ${batchId}
while read -r idx id obj; do
  echo "kptr-conform: begin $id" > /dev/kmsg
  frame case "$id"
  hook=$(cat ${GUEST.dir}/$idx.hook 2>/dev/null)
  [ "$hook" = panic ] && echo c > /proc/sysrq-trigger
  [ "$hook" = hang ] && while :; do sleep 3600; done
  ${GUEST.harness} run ${GUEST.dir}/$obj ${GUEST.dir}/$idx.plan --kmsg-markers </dev/null 2>/tmp/err | frame_stream out
  status=$?
  seq=$(cat /tmp/seq)
  frame_stream err < /tmp/err
  seq=$(cat /tmp/seq)
  frame exit "$id" "$status"
  echo "kptr-conform: end $id" > /dev/kmsg
done < ${GUEST.caseList}
frame end ${batchId}
poweroff -f
`;
}
