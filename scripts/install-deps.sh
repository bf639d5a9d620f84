#!/usr/bin/env bash
# Installs the Debian packages dio-torture builds against and tests with, if any is missing.
# Not root: says what is missing and carries on (the tests that need it skip with the reason).
set -euo pipefail

# qemu-system-x86, busybox-static, kmod (depmod) and xz-utils: the kernel matrix (`dio-torture vm`);
# gcc: the tests build the C reproducers dio-torture writes. erofs-utils: file-backed-consumers.
packages=(liburing-dev pkg-config btrfs-progs xfsprogs e2fsprogs erofs-utils fio qemu-system-x86 busybox-static kmod xz-utils gcc)
missing=()
for package in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing+=("$package")
done
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
    echo "install-deps: missing ${missing[*]}; not root, so not installing (apt-get install ${missing[*]})" >&2
    exit 0
fi
echo "install-deps: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
