#!/usr/bin/env bash
# Sets up a fresh Debian 12 machine for coretrace and builds it: installs the Debian packages it
# needs (apt-get update first, only when something is missing), mounts tracefs, debugfs and
# bpffs when they are not mounted, and builds with CMake + Ninja into ./build.
# Idempotent: run it again and it only rebuilds what changed. Needs root.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ "$(id -u)" -ne 0 ]; then
    echo "setup.sh: run as root (it installs packages and mounts tracefs/bpffs)" >&2
    exit 1
fi

packages=(
    cmake ninja-build g++ pkg-config            # build
    clang llvm bpftool                          # BPF side: clang -target bpf, llvm-strip, skeletons
    libbpf-dev libelf-dev zlib1g-dev            # libbpf (+ static archives)
    libfmt-dev libcli11-dev nlohmann-json3-dev  # library dependencies
    libgtest-dev                                # tests
    systemtap-sdt-dev                           # <sys/sdt.h> for the USDT test fixture
    iproute2                                    # ip: the audit tests' network namespace and veth
    libcivetweb-dev libyaml-cpp-dev             # the exporter's HTTP server and --config
    prometheus wrk                              # promtool, a server and a load generator for the exporter's tests
    qemu-system-x86 busybox-static xz-utils     # second kernel in qemu (tests/second_kernel, label vm)
    chromium                                    # renders profile's flame graph SVG in its test
    ${CORETRACE_EXTRA_PACKAGES:-}
)
missing=()
for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
    echo "setup.sh: installing ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

mount_if_missing() { # type, mount point
    local type=$1 where=$2
    if ! mountpoint -q "$where" 2>/dev/null; then
        mkdir -p "$where" 2>/dev/null || true
        mount -t "$type" "$type" "$where" || echo "setup.sh: warning: could not mount $type at $where" >&2
    fi
}
mount_if_missing tracefs /sys/kernel/tracing
mount_if_missing debugfs /sys/kernel/debug
mount_if_missing bpf /sys/fs/bpf

build_dir=${CORETRACE_BUILD_DIR:-build}
if [ ! -f "$build_dir/build.ninja" ]; then
    cmake -S . -B "$build_dir" -G Ninja ${CORETRACE_CMAKE_ARGS:-} >/dev/null
fi
ninja -C "$build_dir" ${CORETRACE_TARGETS:-}
echo "setup.sh: built $build_dir/bin/coretrace"
