#!/usr/bin/env bash
# Installs the Debian packages dio-torture builds against and tests with, if any is missing.
# Not root: says what is missing and carries on (the tests that need it skip with the reason).
set -euo pipefail

# qemu-system-x86, busybox-static, kmod (depmod) and xz-utils: the kernel matrix (`dio-torture vm`);
# gcc: the tests build the C reproducers dio-torture writes. erofs-utils: file-backed-consumers.
# linux-source: the kernel's own KTAP parser (tools/testing/kunit), which the tests check KTAP with.
# libfuse3-dev: the FUSE targets' server; f2fs-tools, gfs2-utils, exfatprogs, jfsutils and
# nfs-kernel-server (rpcbind, rpc.mountd, rpc.nfsd, exportfs): the other filesystems, which the
# kernel-matrix guests make with the host's tools.
packages=(liburing-dev libfuse3-dev pkg-config btrfs-progs xfsprogs e2fsprogs erofs-utils fio qemu-system-x86 busybox-static kmod xz-utils gcc
          linux-source f2fs-tools gfs2-utils exfatprogs jfsutils nfs-kernel-server)
# The reference validators of the report formats, for the tests: KernelCI's kcidb-io (KCIDB
# schema) and junitparser in a virtualenv under .cache, and the kernel's KTAP parser unpacked
# from Debian's linux-source.
install_validators() {
    local cache validators kunit source
    cache="$(cd "$(dirname "$0")/.." && pwd)/.cache"
    validators="$cache/validators"
    if [ ! -x "$validators/bin/python" ] || ! "$validators/bin/python" -c 'import kcidb_io, junitparser' 2>/dev/null; then
        python3 -m venv "$validators" && "$validators/bin/pip" install -q kcidb-io junitparser >&2 \
            || echo "install-deps: kcidb-io and junitparser not installed; the format-validation tests skip" >&2
    fi
    kunit="$cache/kunit"
    source=$(ls /usr/src/linux-source-*.tar.xz 2>/dev/null | sort -V | tail -1)
    if [ ! -f "$kunit/kunit_parser.py" ] && [ -n "$source" ]; then
        mkdir -p "$kunit"
        tar -xJf "$source" -C "$kunit" --strip-components=4 --wildcards '*/tools/testing/kunit/kunit_parser.py' '*/tools/testing/kunit/kunit_printer.py' \
            || echo "install-deps: the kernel's KTAP parser not unpacked from $source; the KTAP validation test skips" >&2
    fi
}

missing=()
for package in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing+=("$package")
done
if [ ${#missing[@]} -eq 0 ]; then install_validators; exit 0; fi

if [ "$(id -u)" -ne 0 ]; then
    echo "install-deps: missing ${missing[*]}; not root, so not installing (apt-get install ${missing[*]})" >&2
    install_validators
    exit 0
fi
echo "install-deps: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
install_validators
