#!/bin/sh
# What the real Xen run (tox -e xen-real) needs on the host: QEMU to boot Xen, and apt-get
# download + dpkg -x to fetch the hypervisor, the dom0 kernel and the toolstack at test time.
set -e
command -v qemu-system-x86_64 >/dev/null && command -v dpkg >/dev/null && exit 0
apt-get install -y --no-install-recommends qemu-system-x86 dpkg
