#!/usr/bin/env bash
# A Debian 13 (trixie) root tree with Debian's own `nodejs` for a Raspberry Pi architecture (arm64 or
# armhf), for running the gateway under qemu-user-static on an x86 machine (test/e2e/qemu-arch.test.ts):
#
#   qemu-aarch64-static -L ROOT ROOT/usr/bin/node dist/gateway/cli.js start …
#
# `debootstrap --foreign` only downloads and unpacks; its second stage would have to run inside the tree
# (binfmt or a chroot with qemu), so instead every fetched .deb (base system plus nodejs and its
# libraries) is unpacked with `dpkg-deb -x`: no maintainer scripts run, none are needed to start node.
# Debian packages only, nothing else is downloaded. The tree is cached: a second run prints its path at
# once. Cold: 25-40 s per architecture here (network and 2 cores); the tree is ~280 MiB.
#
#   scripts/ci/qemu-root.sh arm64|armhf      prints the tree's path (.cache/qemu/trixie-ARCH)
set -euo pipefail
arch="${1:-}"
case "$arch" in
  arm64 | armhf) ;;
  *)
    echo "usage: $0 arm64|armhf" >&2
    exit 64
    ;;
esac
cd "$(dirname "$0")/../.."
cache="${OUTPOST_QEMU_CACHE:-$PWD/.cache/qemu}"
root="$cache/trixie-$arch"
mirror="${DEBIAN_MIRROR:-http://deb.debian.org/debian}"

if [ -x "$root/usr/bin/node" ] && [ -f "$root/.outpost-root-ok" ]; then
  echo "$root"
  exit 0
fi

mkdir -p "$cache"
partial="$root.partial"
rm -rf "$partial"
echo "qemu-root: debootstrap --foreign trixie $arch with nodejs from $mirror" >&2
debootstrap --foreign --variant=minbase --arch="$arch" --include=nodejs trixie "$partial" "$mirror" >&2
shopt -s nullglob
debs=("$partial"/var/cache/apt/archives/*.deb)
[ ${#debs[@]} -gt 0 ] || {
  echo "qemu-root: debootstrap fetched no packages into $partial" >&2
  exit 1
}
for deb in "${debs[@]}"; do dpkg-deb -x "$deb" "$partial"; done
rm -f "$partial"/var/cache/apt/archives/*.deb
[ -x "$partial/usr/bin/node" ] || {
  echo "qemu-root: no usr/bin/node in the $arch tree (is nodejs in trixie/$arch?)" >&2
  exit 1
}
touch "$partial/.outpost-root-ok"
rm -rf "$root"
mv "$partial" "$root"
echo "$root"
