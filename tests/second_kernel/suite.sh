#!/bin/sh
# The second kernel's suite, run by /init in the VM (busybox sh). Each test prints
# "CTVM PASS|FAIL|SKIP <name>: <why>" and its evidence; the last line is
# "CTVM DONE pass=N fail=N skip=N", which run.sh on the host reads.
#
#   suite.sh [TEST...]    TEST: features, hook_check, tools (every tool whose hook table lists
#                         fentry or kprobe), tool:NAME (one tool), run:NAME (one tool, any hook:
#                         it runs and reports the event), runs (run:NAME for every tool but those
#                         of `tools`); default: features hook_check tools runs.
#
# By hand in the VM (run.sh --keep, or CORETRACE_VM_SHELL): /bin/suite.sh tool:opensnoop
PATH=/bin:/sbin
pass=0 fail=0 skip=0
result() { # PASS|FAIL|SKIP name why
    echo "CTVM $1 $2: $3"
    case $1 in PASS) pass=$((pass + 1)) ;; FAIL) fail=$((fail + 1)) ;; *) skip=$((skip + 1)) ;; esac
}
indent() { sed 's/^/    /'; }

# "tool|event|hook" for each line of `coretrace features`' tool table ("-" when it cannot run).
tool_table() {
    sed -n '/^Tools /,$p' "$1" | awk 'NR > 1 && NF >= 3 {
        tool = $1; line = $0; sub(/^ +[^ ]+ +/, "", line)
        if (match(line, / uses [^ ]+$/)) {
            hook = substr(line, RSTART + 6); event = substr(line, 1, RSTART - 1)
        } else if (match(line, / cannot run: /)) {
            hook = "-"; event = substr(line, 1, RSTART - 1)
        } else next
        sub(/ +$/, "", event)
        print tool "|" event "|" hook
    }'
}
mechanism() { # file name -> yes|no
    sed -n '/^Mechanisms/,/^$/p' "$1" | awk -v m="$2" '$1 == m {print $2}'
}
preferred_kind() { case $1 in fentry/* | fexit/* | kprobe/* | kretprobe/*) return 0 ;; esac; return 1; }

# Tools with an event that none of their hooks can observe on Debian 12's 6.1 (their tables list
# only tracepoints added later). A tool missing here that cannot run fails `runs_here`; one listed
# that runs is reported, to be taken off. Empty since every tool got a 6.1 hook.
known_cannot_run=""

# Tools whose event the provocation does not cause here (no memory pressure, no md device, no
# OOM): `runs` checks that they load, attach and exit cleanly, not that they report.
quiet_tools="drsnoop mdflush oomkill"
# Tools that need arguments to run unattended.
tool_args() {
    case $1 in
    fsdist) echo "-t tmpfs" ;;
    fsslower) echo "-t tmpfs -m 0" ;; # every operation: none is slow here
    runqslower) echo "1" ;;
    esac
}

# ---- features: what differs between the two kernels, and that this one has what it is for ---
test_features() {
    coretrace features >/tmp/features.txt 2>&1 || {
        result FAIL features "coretrace features failed"
        indent </tmp/features.txt
        return
    }
    host=/host/features.txt bad=""
    echo "features: kernel here $(uname -r), on the host $(cat /host/kernel)"
    for m in tracepoint raw_tp tp_btf fentry fexit kprobe uprobe ringbuf kernel_btf bpf_loop; do
        vm=$(mechanism /tmp/features.txt $m) h=$(mechanism $host $m)
        [ "$vm" = "$h" ] || echo "features: $m: host ${h:-?}, here $vm"
    done
    # What the second kernel is for: the mechanisms the host lacks must work here.
    for m in fentry fexit kprobe tracepoint raw_tp tp_btf ringbuf kernel_btf; do
        [ "$(mechanism /tmp/features.txt $m)" = yes ] || bad="$bad $m"
    done
    tool_table $host | sort >/tmp/host_tools
    tool_table /tmp/features.txt | sort >/tmp/vm_tools
    preferred=0 older=0 same=0 cannot="" known=""
    while IFS='|' read -r tool event hook; do
        h=$(awk -F'|' -v t="$tool" -v e="$event" '$1 == t && $2 == e {print $3}' /tmp/host_tools)
        if [ "$hook" = - ]; then
            case " $known_cannot_run " in
            *" $tool "*) known="$known $tool" ;;
            *) cannot="$cannot $tool" ;;
            esac
        fi
        if [ "$h" = "$hook" ]; then
            same=$((same + 1))
        elif preferred_kind "$hook"; then
            preferred=$((preferred + 1))
            echo "features: $tool $event: host ${h:-(not listed)}, here $hook (preferred hook)"
        else
            older=$((older + 1))
            echo "features: $tool $event: host ${h:-(not listed)}, here $hook (not on this kernel)"
        fi
    done </tmp/vm_tools
    echo "features: $same events use the same hook on both kernels, $preferred the preferred" \
        "fentry/kprobe hook only here, $older a later candidate or none here"
    if [ -n "$bad" ]; then
        result FAIL features "this kernel should offer:$bad"
        indent </tmp/features.txt
    else
        result PASS features "fentry, fexit and kprobe work here; differences listed above"
    fi
    cannot=$(echo $cannot | tr ' ' '\n' | sort -u | xargs)
    known=$(echo $known | tr ' ' '\n' | sort -u | xargs)
    for tool in $known_cannot_run; do
        case " $known " in
        *" $tool "*) ;;
        *) echo "features: $tool runs here now: take it off known_cannot_run in suite.sh" ;;
        esac
    done
    if [ -n "$cannot" ]; then
        result FAIL runs_here "tools with an event no hook of theirs can observe on $(uname -r): $cannot"
    else
        result PASS runs_here "every tool has a hook for each event here, but the known: ${known:-none}"
    fi
}

# ---- hook_check: the library's choice end to end, expecting the preferred hooks --------------
test_hook_check() {
    if [ ! -x /bin/hook_check ]; then
        result SKIP hook_check "not in the initramfs (run.sh --hook-check BIN)"
        return
    fi
    if hook_check --expect preferred -v >/tmp/hook_check.txt 2>&1; then
        grep -v '^coretrace: ' /tmp/hook_check.txt | indent
        result PASS hook_check "fentry, kprobe past ESRCH, tracepoint past ENOENT; exact counts"
    else
        indent </tmp/hook_check.txt
        result FAIL hook_check "see above"
    fi
}

# ---- tools: each tool whose table lists fentry/kprobe runs with -v while its event happens ----
provoke() { # what most tools observe: opens, execs, writes, a mount, block I/O, a TCP connection
    i=0
    while [ $i -lt 5 ]; do
        cat /proc/version >/dev/null
        echo x >/tmp/provoke.$i && sync && rm -f /tmp/provoke.$i
        ls /sys/kernel >/dev/null
        /bin/coretrace --version >/dev/null 2>&1 # an exec for certain (busybox runs applets in-process)
        i=$((i + 1))
    done
    hostname second-kernel          # a capability check (CAP_SYS_ADMIN)
    mkdir -p /mnt/provoke && mount -t tmpfs provoke /mnt/provoke && umount /mnt/provoke
    if [ -b /dev/nullb0 ]; then # block I/O, bypassing the page cache (null_blk, see init.sh)
        dd if=/dev/zero of=/dev/nullb0 bs=4096 count=16 oflag=direct 2>/dev/null
        dd if=/dev/nullb0 of=/dev/null bs=4096 count=16 iflag=direct 2>/dev/null
        # Buffered, through the block device's page cache: readahead, cache misses, then hits.
        dd if=/dev/nullb0 of=/dev/null bs=4096 count=64 skip=1024 2>/dev/null
        dd if=/dev/nullb0 of=/dev/null bs=4096 count=64 skip=1024 2>/dev/null
    fi
    # The listener's stdin must stay open until the client's data is in: a background job's is
    # /dev/null, and busybox nc stops at its EOF, possibly before it reads. Not longer: `wait`
    # below waits for the whole pipeline, once per tool.
    sleep 1 | nc -l -p 4242 >/dev/null 2>&1 &
    listener=$!
    sleep 0.2
    # Data after the handshake, so that it arrives on an established socket (tcp_rcv_established).
    (sleep 0.2; echo hello; sleep 0.2) | nc -w 1 127.0.0.1 4242 >/dev/null 2>&1
    kill $listener 2>/dev/null
    wait $listener 2>/dev/null
}

test_tool() { # name [any]: "any" accepts whichever hook is chosen (run:NAME)
    tool=$1 any=${2:-}
    args="--json -v $(tool_args $tool)"
    coretrace $tool $args >/tmp/$tool.out 2>/tmp/$tool.err &
    pid=$!
    # Ready when it announces (stderr with --json) or after 20 s of slow emulated start-up.
    t=0
    while [ $t -lt 100 ] && kill -0 $pid 2>/dev/null &&
        ! grep -qvE '^coretrace: |^libbpf: ' /tmp/$tool.err 2>/dev/null; do
        sleep 0.2
        t=$((t + 1))
    done
    provoke
    sleep 1
    kill -INT $pid 2>/dev/null
    wait $pid
    status=$?
    grep -E '^coretrace: .*: (using|passed over) ' /tmp/$tool.err >/tmp/$tool.hooks
    indent </tmp/$tool.hooks
    # The preferred hook must be the one chosen: a fentry/kprobe passed over because the kernel
    # refused the mechanism is a failure; one passed over because this kernel has no such function
    # (inlined, renamed: ESRCH, ENOENT) is the table working as meant.
    wrong=$(grep -E ': passed over (fentry|fexit|kprobe|kretprobe)/' /tmp/$tool.hooks |
        grep -E 'refuses|no kprobes')
    chosen=$(grep -cE ': using (fentry|fexit|kprobe|kretprobe)/' /tmp/$tool.hooks)
    records=$(grep -c '^{' /tmp/$tool.out)
    others=$(grep '^{' /tmp/$tool.out | grep -vc '"type":"summary"')
    if [ $status -ne 0 ] && [ $status -ne 130 ]; then
        indent </tmp/$tool.err
        result FAIL ${any:-tool}:$tool "exited with status $status"
    elif [ -n "$wrong" ]; then
        result FAIL ${any:-tool}:$tool "a preferred hook was passed over here"
    elif [ "$chosen" -eq 0 ] && [ -z "$any" ]; then
        result FAIL ${any:-tool}:$tool "no fentry/kprobe hook chosen (its table lists one after a working hook?)"
    elif [ "$others" -eq 0 ] && [ -n "$any" ] && [ "$records" -gt 0 ] &&
        case " $quiet_tools " in *" $tool "*) true ;; *) false ;; esac; then
        result PASS run:$tool "ran and exited cleanly (its event does not happen here)"
    elif [ "$others" -eq 0 ]; then
        head -5 /tmp/$tool.out | indent
        result FAIL ${any:-tool}:$tool "reported nothing ($records JSON lines) while its event happened"
    else
        result PASS ${any:-tool}:$tool "$chosen event(s) on fentry/kprobe, $others record(s)"
    fi
}

tools_with_preferred_hooks() {
    # With the other kinds turned off, an event keeps a hook only if its table lists fentry or
    # kprobe somewhere.
    CORETRACE_DISABLE=tracepoint,raw_tp,tp_btf coretrace features >/tmp/only_fentry_kprobe.txt 2>&1
    tool_table /tmp/only_fentry_kprobe.txt |
        awk -F'|' '$3 ~ /^(fentry|fexit|kprobe|kretprobe)\// {print $1}' | sort -u
}

test_tools() {
    list=$(tools_with_preferred_hooks)
    if [ -z "$list" ]; then
        result SKIP tools "no tool lists fentry or kprobe in its hook table yet"
        return
    fi
    for tool in $list; do test_tool $tool; done
}

# ---- runs: every other tool of the table runs here and reports (one binary, two kernels) -------
test_runs() {
    preferred=" $(tools_with_preferred_hooks | xargs) "
    for tool in $(tool_table /host/features.txt | cut -d'|' -f1 | sort -u); do
        case "$preferred" in *" $tool "*) continue ;; esac # `tools` runs those
        test_tool $tool run
    done
}

[ $# -gt 0 ] || set -- features hook_check tools runs
for t in "$@"; do
    case $t in
    features) test_features ;;
    hook_check) test_hook_check ;;
    tools) test_tools ;;
    runs) test_runs ;;
    tool:*) test_tool "${t#tool:}" ;;
    run:*) test_tool "${t#run:}" run ;;
    *) result FAIL "$t" "no such test" ;;
    esac
done
echo "CTVM DONE pass=$pass fail=$fail skip=$skip"
