#!/bin/sh
# Installs the Debian 12 packages pvefs needs to build, run and test. Quick when
# everything is there already. Set PVEFS_NO_APT=1 to skip (packages managed elsewhere).
set -eu
PKGS="gcc make pkg-config fuse3 libfuse3-dev libsqlite3-dev libxxhash-dev
      python3 python3-pytest ansible-core libglib2.0-bin attr util-linux iproute2
      nfs-ganesha nfs-ganesha-vfs rpcbind libnfs-utils libnfs-dev
      corosync libcorosync-common-dev libcpg-dev libquorum-dev libcmap-dev
      libjson-c-dev librados-dev librbd-dev ceph-mon ceph-osd ceph-mgr ceph-common
      qemu-utils qemu-block-extra
      qemu-system-x86 libvirt-dev libvirt-daemon libvirt-daemon-driver-qemu libvirt-clients
      busybox-static lz4
      lxc liblxc1 liblxc-common lxc-dev lxc-templates debootstrap rsync xz-utils
      libnl-3-dev libnl-route-3-dev libmnl-dev openvswitch-switch nftables"
[ "${PVEFS_NO_APT:-}" = 1 ] && exit 0
missing=""
for p in $PKGS; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
# libvirt, run as root, resolves its built-in qemu user before it reads qemu.conf
# (which then says user=root); libvirt-daemon-system would create it, but it also
# brings polkit and an autostarting NAT network, so only the user is made here.
qemu_user() {
	getent passwd libvirt-qemu >/dev/null && return 0
	[ "$(id -u)" = 0 ] || return 0
	useradd -r -U -d /var/lib/libvirt -s /usr/sbin/nologin libvirt-qemu
}
if [ -z "$missing" ]; then
	qemu_user
	exit 0
fi
if [ "$(id -u)" != 0 ]; then
	echo "install-deps: missing packages:$missing (run as root, or install them)" >&2
	exit 1
fi
echo "install-deps: installing$missing" >&2
export DEBIAN_FRONTEND=noninteractive
# Maintainer scripts start a package's service (corosync, rpcbind, NFS-Ganesha, Open
# vSwitch) unless policy-rc.d forbids it. The tests start their own daemons privately,
# and on a host without systemd (a chroot, a container) a started daemon would outlive
# the install, so one is put in place for the install only (an existing one is kept).
rcd=""
if [ ! -e /usr/sbin/policy-rc.d ]; then
	rcd=/usr/sbin/policy-rc.d
	trap 'rm -f "$rcd"' EXIT
	trap 'exit 1' HUP INT TERM
	printf '#!/bin/sh\n# made by pvefs tools/install-deps.sh for its apt-get install\nexit 101\n' >"$rcd"
	chmod 755 "$rcd"
fi
apt-get update -qq
apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends $missing >/dev/null
qemu_user
