#!/usr/bin/env bash
# The second kernel: boots Debian's current 6.1 kernel (linux-image-amd64's dependency) in qemu
# and runs the VM-side suite (suite.sh) with the coretrace binary this build produced. The
# kernel is where fentry and kprobes work, so the tools' preferred hooks run there; here they
# fall back. See docs/testing.md.
#
#   run.sh --coretrace BIN [--hook-check BIN] [--timeout SECONDS] [--keep] [--shell]
#          [-- SUITE ARGS]
#
# --shell: after the suite, a root shell on this terminal (the VM's console; `poweroff -f` or
# Ctrl-A X ends it); no timeout, no verdict.
# SUITE ARGS go to suite.sh in the VM: a list of tests to run (default all; see suite.sh), e.g.
# `run.sh --coretrace build/bin/coretrace -- features` or `-- tool:opensnoop`.
# Environment: CORETRACE_VM_CACHE (default /var/cache/coretrace-vm) holds the extracted kernel,
# one directory per package version; CORETRACE_VM_ACCEL (kvm or tcg) overrides the choice;
# CORETRACE_VM_KERNEL=/path/to/vmlinux boots that kernel instead (how to add a kernel).
# Exit: 0 every VM test passed, 1 a failure or timeout (the VM's log is printed), 77 skipped
# (no qemu, no busybox, no kernel package): ctest shows it as skipped, not passed.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)

coretrace="" hook_check="" timeout=280 keep=0 shell=0
suite_args=()
while [ $# -gt 0 ]; do
    case $1 in
    --coretrace) coretrace=$2; shift 2 ;;
    --hook-check) hook_check=$2; shift 2 ;;
    --timeout) timeout=$2; shift 2 ;;
    --keep) keep=1; shift ;;
    --shell) shell=1; shift ;;
    --) shift; suite_args=("$@"); break ;;
    *) echo "run.sh: unknown argument $1" >&2; exit 2 ;;
    esac
done

skip() { echo "SKIPPED (not passed): $*"; exit 77; }
say() { echo "second_kernel: $*"; }

[ -n "$coretrace" ] && [ -x "$coretrace" ] || { echo "run.sh: --coretrace BIN is required" >&2; exit 2; }
[ "$(id -u)" -eq 0 ] || skip "needs root (the suite loads BPF programs; the kernel cache is in /var/cache)"
qemu=$(command -v qemu-system-x86_64) || skip "qemu-system-x86_64 is not installed (apt-get install qemu-system-x86)"
busybox=""
for b in /bin/busybox /usr/bin/busybox; do
    if [ -x "$b" ] && ! ldd "$b" >/dev/null 2>&1; then busybox=$b; break; fi # static only
done
[ -n "$busybox" ] || skip "no static busybox (apt-get install busybox-static)"
if ldd "$coretrace" >/dev/null 2>&1; then
    skip "$coretrace is not static (configure with -DCORETRACE_STATIC=ON): the VM has no libraries"
fi

# ---- the kernel: Debian's package, extracted once per version --------------------------------
cache=${CORETRACE_VM_CACHE:-/var/cache/coretrace-vm}
# Modules from the same package, loaded by /init in this order: null_blk gives the block tools a
# disk (/dev/nullb0, blk-mq, no backing store) to provoke I/O on; it needs configfs.
vm_modules="fs/configfs/configfs.ko drivers/block/null_blk/null_blk.ko"
extract_vmlinux() { # bzImage -> uncompressed ELF vmlinux (PVH entry: no bootloader, no decompression)
    local image=$1 out=$2 magic tool offset
    for pair in $'\xfd7zXZ:xz -dc --single-stream' $'\x1f\x8b\x08:gzip -dc' \
        $'\x28\xb5\x2f\xfd:zstd -dc'; do
        magic=${pair%%:*} tool=${pair#*:}
        for offset in $(LC_ALL=C grep -abo -F "$magic" "$image" 2>/dev/null | cut -d: -f1 | head -5); do
            tail -c +$((offset + 1)) "$image" | $tool >"$out.tmp" 2>/dev/null
            if [ "$(head -c 4 "$out.tmp" 2>/dev/null)" = $'\x7fELF' ]; then
                mv "$out.tmp" "$out"
                return 0
            fi
        done
    done
    rm -f "$out.tmp"
    return 1
}

if [ -n "${CORETRACE_VM_KERNEL:-}" ]; then
    vmlinux=$CORETRACE_VM_KERNEL
    kernel_name=$(basename "$vmlinux")
else
    package=$(apt-cache depends linux-image-amd64 2>/dev/null | awk '/Depends: linux-image-[0-9]/ {print $2; exit}')
    [ -n "$package" ] || skip "apt-cache does not know linux-image-amd64 (not a Debian machine?)"
    version=$(apt-cache policy "$package" 2>/dev/null | awk '/Candidate:/ {print $2; exit}')
    kernel_name="${package}_${version}"
    kdir="$cache/$kernel_name"
    vmlinux="$kdir/vmlinux"
    # A kernel cached before the modules were kept is fetched again for them.
    if [ ! -s "$vmlinux" ] || [ ! -d "$kdir/modules" ]; then
        say "getting $package $version into $kdir"
        mkdir -p "$kdir" || skip "cannot create $kdir"
        work=$(mktemp -d)
        if ! (cd "$work" && apt-get download "$package" >/dev/null 2>&1); then
            rm -rf "$work"
            rmdir "$kdir" 2>/dev/null
            # Offline: the newest kernel already cached will do.
            cached=$(ls -1d "$cache"/linux-image-*/vmlinux 2>/dev/null | sort -V | tail -1)
            [ -n "$cached" ] || skip "apt-get download $package failed (no network or no Debian archive?) and $cache holds no kernel"
            say "apt-get download $package failed; using the cached $cached"
            vmlinux=$cached
            kernel_name=$(basename "$(dirname "$cached")")
        fi
    fi
    if [ -d "${work:-}" ] && [ -n "$(ls "$work"/*.deb 2>/dev/null)" ]; then
        dpkg -x "$work"/*.deb "$work/x" || { rm -rf "$work"; echo "run.sh: dpkg -x failed" >&2; exit 1; }
        cp "$work"/x/boot/config-* "$kdir/config" 2>/dev/null
        if ! extract_vmlinux "$work"/x/boot/vmlinuz-* "$vmlinux.tmp"; then
            rm -rf "$work"
            echo "run.sh: no compressed ELF found in $package's vmlinuz" >&2
            exit 1
        fi
        mv "$vmlinux.tmp" "$vmlinux"
        # The modules the suite loads, in load order (vm_modules, above).
        mkdir -p "$kdir/modules.tmp"
        for m in $vm_modules; do
            cp "$work"/x/lib/modules/*/kernel/"$m" "$kdir/modules.tmp/" 2>/dev/null
        done
        mv "$kdir/modules.tmp" "$kdir/modules"
        rm -rf "$work"
    fi
fi
[ -s "$vmlinux" ] || skip "no kernel at $vmlinux"

# ---- accelerator: KVM only where the CPU has virtualization; otherwise TCG (software) -------
accel=${CORETRACE_VM_ACCEL:-}
if [ -z "$accel" ]; then
    accel=tcg
    if [ -r /dev/kvm ] && [ -w /dev/kvm ] && grep -qwE 'vmx|svm' /proc/cpuinfo; then accel=kvm; fi
fi

# ---- initramfs: busybox, coretrace, hook_check, the suite, and what the host saw -------------
run_dir=$(mktemp -d /tmp/coretrace-vm.XXXXXX)
qemu_pid=""
cleanup() {
    [ -n "$qemu_pid" ] && kill "$qemu_pid" 2>/dev/null # ctest's own timeout, Ctrl-C
    if [ "$keep" = 1 ]; then say "kept $run_dir"; else rm -rf "$run_dir"; fi
}
trap cleanup EXIT
trap 'exit 1' INT TERM
root=$run_dir/root
mkdir -p "$root"/{bin,sbin,proc,sys,dev,tmp,run,root,etc,host}
cp "$busybox" "$root/bin/busybox"
# Without their debug sections (25x smaller): the initramfs is unpacked into the VM's memory.
strip --strip-debug -o "$root/bin/coretrace" "$coretrace" || exit 1
if [ -n "$hook_check" ]; then strip --strip-debug -o "$root/bin/hook_check" "$hook_check" || exit 1; fi
mkdir -p "$root/modules"
if [ -d "$(dirname "$vmlinux")/modules" ]; then
    for m in $vm_modules; do
        [ -f "$(dirname "$vmlinux")/modules/$(basename "$m")" ] &&
            cp "$(dirname "$vmlinux")/modules/$(basename "$m")" "$root/modules/"
        echo "$(basename "$m")" >>"$root/modules/order"
    done
fi
cp "$here/init.sh" "$root/init"
cp "$here/suite.sh" "$root/bin/suite.sh"
chmod +x "$root/init" "$root/bin/suite.sh"
# The host's view, for the comparison in the VM.
"$coretrace" features >"$root/host/features.txt" 2>&1
uname -r >"$root/host/kernel"
printf '%s\n' "${suite_args[@]}" >"$root/host/suite_args"
[ "$shell" = 1 ] && touch "$root/host/shell"
(cd "$root" && find . | "$busybox" cpio -o -H newc 2>/dev/null | gzip -1 >"$run_dir/initrd.gz") ||
    { echo "run.sh: building the initramfs failed" >&2; exit 1; }

# ---- boot ------------------------------------------------------------------------------------
console=$run_dir/console.log results=$run_dir/results.log
: >"$console"
: >"$results"
say "booting $kernel_name ($(basename "$vmlinux")) with accel=$accel, timeout ${timeout}s"
qemu_args=(-accel "$accel" -cpu max -smp 1 -m 512 -nodefaults -no-user-config -display none
    -kernel "$vmlinux" -initrd "$run_dir/initrd.gz" -nic none -no-reboot)
if [ "$shell" = 1 ]; then
    "$qemu" "${qemu_args[@]}" -append "console=ttyS0 loglevel=4 panic=-1" \
        -serial mon:stdio -serial "file:$results"
    exit 0
fi
start=$(date +%s.%N)
"$qemu" "${qemu_args[@]}" -append "console=ttyS0 quiet loglevel=4 panic=-1 oops=panic" \
    -serial "file:$console" -serial "file:$results" >"$run_dir/qemu.out" 2>&1 &
qemu_pid=$!
booted="" rss_kib=0 timed_out=0
while kill -0 "$qemu_pid" 2>/dev/null; do
    now=$(date +%s.%N)
    if [ -z "$booted" ] && grep -q '^CTVM BOOTED' "$results"; then
        booted=$(awk "BEGIN {print $now - $start}")
    fi
    hwm=$(awk '/^VmHWM:/ {print $2}' "/proc/$qemu_pid/status" 2>/dev/null)
    [ -n "$hwm" ] && [ "$hwm" -gt "$rss_kib" ] && rss_kib=$hwm
    if awk "BEGIN {exit !($now - $start > $timeout)}"; then
        timed_out=1
        kill "$qemu_pid" 2>/dev/null
        break
    fi
    sleep 0.2
done
wait "$qemu_pid" 2>/dev/null
qemu_pid=""
total=$(awk "BEGIN {print $(date +%s.%N) - $start}")

# ---- verdict ---------------------------------------------------------------------------------
grep -vE '^CTVM (BOOTED|END|DONE)' "$results" | sed 's/^/  vm| /'
done_line=$(grep '^CTVM DONE' "$results" | tail -1)
say "$(printf 'boot %.1fs, total %.1fs, qemu max RSS %d MiB, accel %s' "${booted:-0}" "$total" $((rss_kib / 1024)) "$accel")"
failed=0
if [ "$timed_out" = 1 ]; then
    say "FAILED: timed out after ${timeout}s"
    failed=1
elif [ -z "$done_line" ]; then
    say "FAILED: the VM stopped without finishing the suite"
    failed=1
elif ! echo "$done_line" | grep -q ' fail=0'; then
    say "FAILED: $done_line"
    failed=1
fi
if [ "$failed" = 1 ]; then
    echo "---- VM console (kernel log and init) ----"
    tail -n 200 "$console"
    echo "---- qemu ----"
    cat "$run_dir/qemu.out"
    exit 1
fi
say "passed: ${done_line#CTVM DONE }"
exit 0
