#!/usr/bin/env bash
# Prepares a fresh Debian 12 (as root) for kptr-conform: system packages, node modules, the native harness.
# Idempotent and quiet when everything is present; one clear line and a non-zero status on failure.
set -uo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
log="$(mktemp)"
trap 'rm -f "$log"' EXIT
fail() { cat "$log" >&2; echo "setup: $1" >&2; exit 1; }

packages=(clang-16 llvm-16 libbpf-dev libelf-dev zlib1g-dev bpftool qemu-system-x86 busybox-static cpio gcc libc6-dev libxml2-utils chromium)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if ((${#missing[@]})); then
  [[ $(id -u) -eq 0 ]] || fail "missing packages (${missing[*]}): run this script as root"
  echo "setup: installing ${missing[*]}"
  DEBIAN_FRONTEND=noninteractive apt-get update -qq >"$log" 2>&1 || fail "apt-get update failed"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >"$log" 2>&1 \
    || fail "apt-get install ${missing[*]} failed"
fi

command -v node >/dev/null || fail "node (>= 20) is not installed"
cd "$root" || fail "cannot enter $root"
if [[ ! -d node_modules || package.json -nt node_modules || ( -f package-lock.json && package-lock.json -nt node_modules ) ]]; then
  if [[ -f package-lock.json ]]; then
    npm ci --no-audit --no-fund >"$log" 2>&1 || fail "npm ci failed"
  else
    npm install --no-audit --no-fund >"$log" 2>&1 || fail "npm install failed"
  fi
  touch node_modules
fi

bash "$root/scripts/build-harness.sh" >"$log" 2>&1 || fail "building the native harness failed"
