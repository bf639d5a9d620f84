#!/usr/bin/env bash
# Fetches Debian 12's newest generic amd64 kernels of the 6.1 and 6.12 series for the kernel
# matrix (`dio-torture vm`), unpacks each under DEST (default: .cache/kernels) and runs depmod
# on its modules. Prints the path of each kernel image. Already unpacked kernels are kept.
set -euo pipefail
cd "$(dirname "$0")/.."
dest=${1:-.cache/kernels}
mkdir -p "$dest"
command -v depmod >/dev/null || { echo "fetch-debian-kernels: depmod missing (apt-get install kmod)" >&2; exit 1; }

newest() { apt-cache search --names-only "$1" | cut -d' ' -f1 | sort -V | tail -1; }
packages=("$(newest '^linux-image-6\.1\.0-[0-9]+-amd64-unsigned$')"
          "$(newest '^linux-image-6\.12\.[0-9]+\+deb12-amd64-unsigned$')")

download=$(mktemp -d)
trap 'rm -rf "$download"' EXIT
for package in "${packages[@]}"; do
    [ -n "$package" ] || { echo "fetch-debian-kernels: no such package in the apt lists (apt-get update?)" >&2; exit 1; }
    tree="$dest/$package"
    if [ ! -d "$tree/boot" ]; then
        (cd "$download" && apt-get download -q "$package" >/dev/null 2>&1) \
            || { echo "fetch-debian-kernels: apt-get download $package failed" >&2; exit 1; }
        rm -rf "$tree.partial" && mkdir -p "$tree.partial"
        dpkg-deb -x "$download/$package"_*.deb "$tree.partial"
        rm -f "$download/$package"_*.deb
        release=$(ls "$tree.partial/lib/modules")
        depmod -b "$tree.partial" "$release"
        mv "$tree.partial" "$tree"
    fi
    ls "$tree"/boot/vmlinuz-*
done
