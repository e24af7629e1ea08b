#!/bin/busybox sh
# /init of the second kernel's initramfs: mounts what the tools need, brings up loopback, runs
# the suite with its results on the second serial port (ttyS1, the host's results file; the
# kernel log stays on ttyS0) and powers off. Nothing here may wait for input.
/bin/busybox --install -s /bin
export PATH=/bin:/sbin HOME=/root TMPDIR=/tmp
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
mount -t tmpfs tmpfs /tmp
mount -t tmpfs tmpfs /run
mount -t tracefs tracefs /sys/kernel/tracing
mount -t debugfs debugfs /sys/kernel/debug
mount -t bpf bpf /sys/fs/bpf
mkdir -p /sys/fs/cgroup && mount -t cgroup2 cgroup2 /sys/fs/cgroup
hostname second-kernel
ip link set lo up 2>/dev/null || ifconfig lo 127.0.0.1 up
# The kernel package's modules that run.sh put here, in order (null_blk: /dev/nullb0 for the
# block tools). insmod, not modprobe: no depmod data is needed for a fixed order.
if [ -f /modules/order ]; then
    for m in $(cat /modules/order); do
        [ -f /modules/$m ] && insmod /modules/$m 2>/dev/null
    done
fi
echo "CTVM BOOTED $(cut -d' ' -f1 /proc/uptime)" >/dev/ttyS1
/bin/suite.sh $(cat /host/suite_args) >/dev/ttyS1 2>&1
echo "CTVM END" >/dev/ttyS1
if [ -e /host/shell ]; then # run.sh --shell: the console is the user's terminal
    echo "second kernel $(uname -r): suite results went to the host's results file;"
    echo "run one test with: suite.sh tool:NAME (or features, hook_check); poweroff -f to leave"
    setsid cttyhack sh -l
fi
sync
poweroff -f
