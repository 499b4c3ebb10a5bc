#!/bin/sh
# Builds the tiny QEMU test guest into OUTDIR: vmlinux (the Debian cloud kernel's
# uncompressed ELF, PVH-bootable with -kernel), initrd.gz (busybox-static + virtio
# modules) and kernel.version. Needs only Debian's apt mirror, busybox-static and lz4.
# The kernel is extracted from its .deb (apt-get download + dpkg -x), never installed.
#
# Serial markers printed by the guest's /init on ttyS0:
#   PVEFS-BOOT-OK uptime=<s>       userspace is up (the power button is already watched)
#   PVEFS-TICK <n>                 every second (stops while the guest is paused)
#   PVEFS-DISK <name> size=<n>     a block device vd* / sd* appeared (hot-plug check)
#   PVEFS-POWERDOWN                ACPI power button pressed; then poweroff -f
# The kernel cmdline option pvefs.tick=0 turns the tick/disk loop off (an idle guest).
#
# usage: build-guest.sh OUTDIR      (idempotent: exits at once if the files exist)
set -eu
OUT=${1:?usage: build-guest.sh OUTDIR}
case "$OUT" in /*) ;; *) OUT=$PWD/$OUT ;; esac # the work happens in a temporary directory
[ -s "$OUT/vmlinux" ] && [ -s "$OUT/initrd.gz" ] && exit 0
for t in apt-get apt-cache dpkg lz4 gzip; do
    command -v $t >/dev/null || { echo "build-guest: $t is missing" >&2; exit 1; }
done
[ -x /bin/busybox ] || [ -x /usr/bin/busybox ] || { echo "build-guest: busybox-static is missing" >&2; exit 1; }
BB=$(command -v busybox)
file -L "$BB" 2>/dev/null | grep -q 'statically linked' ||
    [ ! -x /usr/bin/file ] || { echo "build-guest: $BB is not static (install busybox-static)" >&2; exit 1; }

mkdir -p "$OUT"
W=$(mktemp -d "${TMPDIR:-/tmp}/pvefs-guest.XXXXXX")
trap 'rm -rf "$W"' EXIT
cd "$W"

# 1. kernel: resolve the cloud metapackage to the concrete image package
KPKG=$(apt-cache depends linux-image-cloud-amd64 2>/dev/null | awk '/Depends: linux-image-/{print $2; exit}')
[ -n "$KPKG" ] || { echo "build-guest: apt-cache knows no linux-image-cloud-amd64 (apt-get update?)" >&2; exit 1; }
apt-get download "$KPKG" >/dev/null 2>&1 || { echo "build-guest: apt-get download $KPKG failed" >&2; exit 1; }
dpkg -x "$KPKG"_*.deb kx
KVER=$(ls kx/lib/modules)
# Debian 12 kernels are LZ4 (CONFIG_KERNEL_LZ4): the payload starts at the LZ4 legacy magic.
# The ELF inside boots through PVH, skipping the decompressor (slow under TCG, above all
# after a reset).
off=$(grep -obUaP '\x02\x21\x4c\x18' kx/boot/vmlinuz-"$KVER" | head -1 | cut -d: -f1)
[ -n "$off" ] || { echo "build-guest: no LZ4 payload in vmlinuz-$KVER" >&2; exit 1; }
tail -c +$((off + 1)) kx/boot/vmlinuz-"$KVER" | lz4 -dc >vmlinux 2>/dev/null || true
head -c 4 vmlinux | grep -q ELF || { echo "build-guest: vmlinux extraction failed" >&2; exit 1; }

# 2. initramfs
R=$W/root
mkdir -p "$R"/bin "$R"/proc "$R"/sys "$R"/dev "$R"/tmp "$R"/mods
cp "$BB" "$R"/bin/busybox
M=kx/lib/modules/$KVER/kernel
# the .deb has no modules.dep: /init loads these in dependency order
for m in drivers/virtio/virtio_ring.ko drivers/virtio/virtio.ko \
    drivers/virtio/virtio_pci_legacy_dev.ko drivers/virtio/virtio_pci_modern_dev.ko \
    drivers/virtio/virtio_pci.ko drivers/block/virtio_blk.ko drivers/scsi/scsi_common.ko \
    drivers/scsi/scsi_mod.ko drivers/scsi/sd_mod.ko drivers/scsi/virtio_scsi.ko \
    net/core/failover.ko drivers/net/net_failover.ko drivers/net/virtio_net.ko \
    drivers/acpi/button.ko drivers/input/evdev.ko; do
    [ -f "$M/$m" ] && cp "$M/$m" "$R"/mods/
done

cat >"$R"/init <<'INIT'
#!/bin/busybox sh
/bin/busybox --install -s /bin
mount -t proc proc /proc; mount -t sysfs sys /sys; mount -t devtmpfs dev /dev
for m in virtio_ring virtio virtio_pci_legacy_dev virtio_pci_modern_dev virtio_pci virtio_blk \
    scsi_common scsi_mod sd_mod virtio_scsi failover net_failover virtio_net button evdev; do
    [ -f /mods/$m.ko ] && { insmod /mods/$m.ko || echo "PVEFS-INSMOD-FAIL $m" >/dev/ttyS0; }
done
# The power button is opened before the boot marker, so an early powerdown is not lost.
for e in /sys/class/input/event*; do
    if grep -q "Power Button" $e/device/name 2>/dev/null; then
        exec 3</dev/input/${e##*/}
        (head -c 1 <&3 >/dev/null; echo "PVEFS-POWERDOWN" >/dev/ttyS0; sync; poweroff -f) &
    fi
done
echo "PVEFS-BOOT-OK uptime=$(cut -d' ' -f1 /proc/uptime)" >/dev/ttyS0
tick=1
for a in $(cat /proc/cmdline); do case $a in pvefs.tick=*) tick=${a#pvefs.tick=} ;; esac; done
[ "$tick" = 0 ] && while :; do sleep 3600; done
n=0; seen=""
while :; do
    for b in /sys/block/vd* /sys/block/sd*; do
        [ -e "$b" ] || continue
        d=${b##*/}
        case " $seen " in *" $d "*) ;; *)
            seen="$seen $d"; echo "PVEFS-DISK $d size=$(cat $b/size)" >/dev/ttyS0 ;;
        esac
    done
    n=$((n + 1))
    echo "PVEFS-TICK $n" >/dev/ttyS0
    sleep $tick
done
INIT
chmod +x "$R"/init
(cd "$R" && find . | "$BB" cpio -o -H newc 2>/dev/null | gzip -1) >initrd.gz

# publish atomically: a half-built OUTDIR never passes the idempotence check
mv vmlinux "$OUT"/vmlinux.tmp && mv "$OUT"/vmlinux.tmp "$OUT"/vmlinux
echo "$KVER" >"$OUT"/kernel.version
mv initrd.gz "$OUT"/initrd.gz.tmp && mv "$OUT"/initrd.gz.tmp "$OUT"/initrd.gz
