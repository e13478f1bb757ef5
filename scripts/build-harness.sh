#!/usr/bin/env bash
# Builds runners/native/harness: static (so the same binary runs in a busybox VM), with libbpf's bpf_prog_load
# wrapped so every program of one object gets its own verdict (see runners/native/harness.c).
# Idempotent: does nothing when the binary is newer than its source.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
src="$root/runners/native/harness.c"
bin="$root/runners/native/harness"
cc="${CC:-gcc}"

if [[ -x "$bin" && "$bin" -nt "$src" && "$bin" -nt "${BASH_SOURCE[0]}" ]]; then
  exit 0
fi
command -v "$cc" >/dev/null || { echo "build-harness: $cc not found (run scripts/setup.sh)" >&2; exit 1; }
tmp="$bin.tmp.$$"
if ! out="$("$cc" -O2 -g -Wall -Wextra -Wno-missing-field-initializers -static -o "$tmp" "$src" \
      -Wl,--wrap=bpf_prog_load -lbpf -lelf -lz -pthread 2>&1)"; then
  rm -f "$tmp"
  echo "$out" >&2
  echo "build-harness: compiling $src failed (are libbpf-dev, libelf-dev, zlib1g-dev installed?)" >&2
  exit 1
fi
# gcc warns that getpwnam-style calls in static glibc need the shared libc at run time; nothing here uses them.
[[ -n "$out" ]] && echo "$out" | grep -v 'statically linked applications requires at runtime' >&2 || true
mv -f "$tmp" "$bin"
