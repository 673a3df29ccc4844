# shellcheck shell=bash
# tests/vm/lib.sh: start Debian guests under QEMU and drive them over SSH.
#
#   . tests/vm/lib.sh
#   vm_require_host                       # exit 77 with a reason if we cannot
#   img=$(vm_image bios-mbr)              # build or reuse the cached image
#   vm_start g1 "$img" --disks 2          # overlay + 2 blank target disks
#   vm_wait g1                            # until SSH answers (console tail if not)
#   vm_ssh g1 'lsblk'                     # exit code and output of a command
#   vm_hard_reset g1                      # power cut: kill -9 QEMU, start again
#   vm_stop g1                            # (everything is torn down at exit)
#
# Every guest has its own directory under one run directory: the qcow2
# overlay on top of the cached base image (which stays pristine), fresh raw
# target disks, its OVMF variable store, the serial console (logged to
# console.log, and a socket console.sock for a person:
# `socat -,raw,echo=0,escape=0x0f unix-connect:DIR/console.sock`, root/root), QEMU's
# own log, its PID and its SSH port.  The SSH key is made once per run and given
# to the guest through QEMU's fw_cfg, so nothing in the image changes and no
# extra disk shows up for rootraid to inspect.
#
# Disks are virtio-blk with serial numbers, so inside the guest they have
# stable names: /dev/disk/by-id/virtio-rr-sys for the system disk and
# virtio-rr-t1 ... virtio-rr-t3 for the blank targets.
#
# Environment: ROOTRAID_VM_CACHE (image cache, default /var/cache/rootraid-vm),
# ROOTRAID_VM_ACCEL (kvm or tcg; default: probe), ROOTRAID_VM_RUN (where run
# directories go, default $TMPDIR or /tmp), ROOTRAID_VM_KEEP=1 (keep the run
# directory and leave guests running at exit, for debugging),
# ROOTRAID_VM_MEM (MiB, default 1024), ROOTRAID_VM_SMP (default 2).

VM_LIB_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
VM_CACHE=${ROOTRAID_VM_CACHE:-/var/cache/rootraid-vm}
VM_RUN_ROOT=${VM_RUN_ROOT:-}
VM_ACCEL=${ROOTRAID_VM_ACCEL:-}
VM_SSH_OPTS=(-o BatchMode=yes -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null
        -o LogLevel=ERROR -o ConnectTimeout=10 -o IdentitiesOnly=yes
        -o ServerAliveInterval=5 -o ServerAliveCountMax=6)

vm_log() { echo "vm: $*" >&2; }

# vm_skip REASON: a test that cannot run here exits 77 and says why.
vm_skip() {
        echo "SKIP: $*"
        exit 77
}

# vm_require_host: skip unless this host can run guests at all.
vm_require_host() {
        [ "$(id -u)" = 0 ] || vm_skip "guest tests need root (loop devices, debootstrap)"
        local p
        for p in qemu-system-x86_64 qemu-img ssh scp ssh-keygen python3 flock; do
                command -v "$p" >/dev/null || vm_skip "$p is not installed (see .ci/packages)"
        done
}

# vm_image LAYOUT [build-image options]: prints the path of the cached image
# for LAYOUT, building it first if needed.  Skips the test (77) when the
# image is not cached and cannot be built here (no debootstrap, no mirror).
vm_image() {
        local out rc
        out=$("$VM_LIB_DIR/build-image" --layout "$@")
        rc=$?
        case $rc in
        0) echo "${out##*$'\n'}" ;; # the last line: the path, whatever else came out
        77) vm_skip "cannot build the $1 image here: $out" ;;
        *) vm_log "building the $1 image failed (exit $rc)"; return 1 ;;
        esac
}

# vm_accel: kvm if a real Linux kernel gets going under KVM within a few
# seconds, else tcg.  /dev/kvm exists on some hosts where guests then hang
# (or QEMU aborts on an MSR), and a tiny real-mode probe still passes there,
# so the probe boots the guests' own kernel (saved by build-image) with no
# root disk: it must reach its "VFS: Unable to mount root" panic, after
# which -no-reboot ends QEMU.  Without that kernel, tcg.
vm_accel() {
        vm__probe_accel
        echo "$VM_ACCEL"
}

vm__probe_accel() { # sets VM_ACCEL, once per run
        [ -n "$VM_ACCEL" ] && return 0
        VM_ACCEL=tcg
        local kernel=$VM_CACHE/probe-vmlinuz log
        if [ -w /dev/kvm ] && [ -f "$kernel" ]; then
                log=$(mktemp /tmp/rootraid-kvm-probe.XXXXXX)
                { timeout 20 qemu-system-x86_64 -accel kvm -machine q35 -cpu host -m 256 -nodefaults \
                        -display none -no-reboot -serial "file:$log" -kernel "$kernel" \
                        -append "console=ttyS0 panic=-1 root=/dev/nonexistent"; } >/dev/null 2>&1 &&
                        grep -q 'Unable to mount root\|Kernel panic' "$log" && VM_ACCEL=kvm
                rm -f "$log"
        fi
        vm_log "accelerator: $VM_ACCEL"
}

vm__run_root() {
        if [ -z "$VM_RUN_ROOT" ]; then
                local parent=${ROOTRAID_VM_RUN:-${TMPDIR:-/tmp}}
                # An empty VM_RUN_ROOT would put every guest's files in /.
                mkdir -p "$parent" &&
                        VM_RUN_ROOT=$(mktemp -d "$parent/rootraid-vm.XXXXXX") ||
                        { vm_log "cannot make a run directory under $parent"; exit 1; }
                ssh-keygen -q -t ed25519 -N '' -C rootraid-vm-test -f "$VM_RUN_ROOT/id_ed25519"
                trap 'vm__teardown' EXIT
                trap 'exit 130' INT
                trap 'exit 143' TERM
        fi
}

vm__dir() { echo "$VM_RUN_ROOT/$1"; }

vm__free_port() {
        python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

vm__alive() { # NAME
        local pid
        pid=$(cat "$(vm__dir "$1")/pid" 2>/dev/null) && [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null
}

# vm_start NAME IMAGE [--disks N] [--disk-size SIZE] [--drive FILE:SERIAL[:ro]]...
#          [--mem MIB]: a new guest on a qcow2 overlay of IMAGE with N blank
# raw target disks (serials rr-t1 ...), started in the background.
vm_start() {
        local name=$1 image=$2
        shift 2
        local disks=1 size=4G mem=${ROOTRAID_VM_MEM:-1024} extra=() i
        while [ $# -gt 0 ]; do
                case $1 in
                --disks) disks=$2; shift 2 ;;
                --disk-size) size=$2; shift 2 ;;
                --drive) extra+=("$2"); shift 2 ;;
                --mem) mem=$2; shift 2 ;;
                *) vm_log "vm_start: unknown option $1"; return 2 ;;
                esac
        done
        [ -f "$image" ] || { vm_log "vm_start: no image $image"; return 1; }
        case $disks in [0-3]) ;; *) vm_log "vm_start: 0 to 3 target disks"; return 2 ;; esac
        vm__run_root
        local dir
        dir=$(vm__dir "$name")
        [ -e "$dir" ] && { vm_log "vm_start: guest $name exists"; return 1; }
        mkdir -p "$dir"

        local firmware=bios
        # shellcheck disable=SC1090
        [ -f "$image.env" ] && firmware=$(. "$image.env" && echo "$FIRMWARE")
        echo "$firmware" >"$dir/firmware"
        echo "$mem" >"$dir/mem"
        if [ "$firmware" = uefi ]; then
                cp /usr/share/OVMF/OVMF_VARS_4M.fd "$dir/OVMF_VARS.fd"
        fi

        qemu-img create -q -f qcow2 -F qcow2 -b "$image" "$dir/sys.qcow2"
        echo "$dir/sys.qcow2:rr-sys:rw:qcow2" >"$dir/drives"
        for ((i = 1; i <= disks; i++)); do
                truncate -s "$size" "$dir/t$i.raw"
                echo "$dir/t$i.raw:rr-t$i:rw:raw" >>"$dir/drives"
        done
        local d f s ro
        for d in "${extra[@]}"; do
                IFS=: read -r f s ro <<<"$d"
                echo "$f:$s:${ro:-rw}:raw" >>"$dir/drives"
        done
        vm__launch "$name"
}

# vm__console_mark FILE TEXT: "=== TIME TEXT" on a line of its own in a
# console log, which may end in mid-line (a login prompt): the tests find
# the boots after a cut by these lines.
vm__console_mark() {
        [ -z "$(tail -c1 "$1" 2>/dev/null)" ] || echo >>"$1"
        echo "=== $(date -u +%FT%TZ) $2" >>"$1"
}

# vm__launch NAME: starts QEMU for a guest from the files in its directory,
# so that a hard reset or a detached disk restarts it the same way.
vm__launch() {
        local name=$1 dir accel port firmware
        dir=$(vm__dir "$name")
        vm__probe_accel
        accel=$VM_ACCEL
        firmware=$(cat "$dir/firmware")
        local args=(qemu-system-x86_64 -name "rootraid-$name" -machine q35 -accel "$accel"
                -smp "${ROOTRAID_VM_SMP:-2}" -m "$(cat "$dir/mem")" -nodefaults -display none
                -chardev "socket,id=con0,path=$dir/console.sock,server=on,wait=off,logfile=$dir/console.log,logappend=on"
                -serial chardev:con0
                -monitor none -rtc base=utc
                -fw_cfg "name=opt/org.rootraid/ssh_key,file=$VM_RUN_ROOT/id_ed25519.pub")
        if [ "$accel" = kvm ]; then args+=(-cpu host); else args+=(-cpu max); fi
        if [ "$firmware" = uefi ]; then
                args+=(-drive "if=pflash,format=raw,readonly=on,file=/usr/share/OVMF/OVMF_CODE_4M.fd"
                        -drive "if=pflash,format=raw,file=$dir/OVMF_VARS.fd")
        fi
        local n=0 f s mode fmt ro boot
        while IFS=: read -r f s mode fmt; do
                ro='' boot=''
                [ "$mode" = ro ] && ro=,readonly=on
                # SeaBIOS boots the first drive.  OVMF gets no bootindex:
                # with one, it rebuilds BootOrder from QEMU's list at every
                # boot and drops the entries efibootmgr made, so the guest
                # would never use them; without, BootOrder is the guest's,
                # as on real firmware (an old ESP emptied by a power cut
                # then falls through to the next disk's entry).
                [ $n = 0 ] && [ "$firmware" != uefi ] && boot=,bootindex=0
                # cache=writeback: a guest flush reaches the host file, so
                # killing QEMU is a power cut, not a corrupted qcow2.
                args+=(-drive "file=$f,format=$fmt,if=none,id=d$n,cache=writeback,discard=unmap$ro"
                        -device "virtio-blk-pci,drive=d$n,serial=$s$boot")
                n=$((n + 1))
        done <"$dir/drives"

        for _ in 1 2 3; do
                port=$(vm__free_port)
                echo "$port" >"$dir/port"
                printf '%q ' "${args[@]}" -netdev "user,id=n0,hostfwd=tcp:127.0.0.1:$port-:22" \
                        -device virtio-net-pci,netdev=n0 >"$dir/qemu.cmd"
                vm__console_mark "$dir/console.log" "start (accel $accel, port $port)"
                # -daemonize returns once QEMU is set up, with its status:
                # a port taken since the probe fails here, not later.
                rm -f "$dir/pid"
                if "${args[@]}" -netdev "user,id=n0,hostfwd=tcp:127.0.0.1:$port-:22" \
                        -device virtio-net-pci,netdev=n0 -daemonize -pidfile "$dir/pid" \
                        </dev/null >>"$dir/qemu.log" 2>&1; then
                        date +%s >"$dir/started"
                        return 0
                fi
                tail -3 "$dir/qemu.log" >&2
        done
        vm_log "vm_start: QEMU does not start for $name (see $dir/qemu.log)"
        return 1
}

# vm_console_tail NAME [LINES]: the end of the serial console log.
vm_console_tail() {
        local f
        f=$(vm__dir "$1")/console.log
        echo "---- console of $1 (last ${2:-40} lines of $f) ----" >&2
        tail -n "${2:-40}" "$f" 2>/dev/null | tr -d '\r' | sed 's/\x1b\[[0-9;?]*[A-Za-z]//g' >&2
        echo "----" >&2
}

# vm__hung_panic NAME: true when the console, since QEMU last started,
# shows a kernel panic no timer is left to reboot from (the early timer
# check, which TCG on a loaded host can fail); nothing comes after it.
vm__hung_panic() {
        tac "$(vm__dir "$1")/console.log" 2>/dev/null | sed '/^=== .* start (accel/q' |
                grep -aq 'Kernel panic - not syncing: IO-APIC + timer'
}

# vm_wait NAME [TIMEOUT]: until SSH answers (default 900 s, TCG is slow).
# On failure prints the console tail and returns 1.  Records the seconds
# from QEMU start to SSH in DIR/boot-seconds.  A boot that hung in the
# kernel's early timer panic (before any disk is read) fails at once.
vm_wait() {
        local name=$1 timeout=${2:-900} dir start now
        dir=$(vm__dir "$name")
        start=$(cat "$dir/started")
        while :; do
                if ! vm__alive "$name"; then
                        vm_log "vm_wait: QEMU of $name is gone"
                        tail -5 "$dir/qemu.log" >&2
                        vm_console_tail "$name"
                        return 1
                fi
                if vm__hung_panic "$name"; then
                        vm_log "vm_wait: the kernel of $name panicked in its timer check, before reading any disk (TCG on a loaded host; the test images boot with no_timer_check)"
                        vm_console_tail "$name" 12
                        return 1
                fi
                if vm_ssh "$name" true 2>/dev/null; then
                        now=$(date +%s)
                        echo $((now - start)) >"$dir/boot-seconds"
                        vm_log "$name answers on SSH after $((now - start)) s"
                        return 0
                fi
                now=$(date +%s)
                if [ $((now - start)) -ge "$timeout" ]; then
                        vm_log "vm_wait: $name not up after $timeout s"
                        vm_console_tail "$name"
                        return 1
                fi
                sleep 3
        done
}

# vm_ssh NAME COMMAND...: runs a command as root in the guest and returns
# its exit code (255: SSH itself failed).  One argument is a shell command
# line; several arguments are quoted one by one.
vm_ssh() {
        local name=$1 dir cmd
        shift
        dir=$(vm__dir "$name")
        if [ $# -eq 1 ]; then cmd=$1; else cmd=$(printf '%q ' "$@"); fi
        ssh "${VM_SSH_OPTS[@]}" -i "$VM_RUN_ROOT/id_ed25519" -p "$(cat "$dir/port")" \
                root@127.0.0.1 "$cmd" </dev/null
}

# vm_copy_in NAME SRC... DEST: copies host files into the guest.
vm_copy_in() {
        local name=$1 dir
        shift
        dir=$(vm__dir "$name")
        local dest=${*: -1} srcs=("${@:1:$#-1}")
        scp -q "${VM_SSH_OPTS[@]}" -i "$VM_RUN_ROOT/id_ed25519" -P "$(cat "$dir/port")" \
                "${srcs[@]}" "root@127.0.0.1:$dest"
}

# vm_copy_out NAME SRC DEST: copies a guest file to the host.
vm_copy_out() {
        local name=$1 dir
        dir=$(vm__dir "$name")
        scp -q "${VM_SSH_OPTS[@]}" -i "$VM_RUN_ROOT/id_ed25519" -P "$(cat "$dir/port")" \
                "root@127.0.0.1:$2" "$3"
}

vm__boot_id() { vm_ssh "$1" cat /proc/sys/kernel/random/boot_id 2>/dev/null; }

# vm_reboot NAME [TIMEOUT]: a clean reboot; returns once the guest answers
# with a new boot id.
vm_reboot() {
        local name=$1 timeout=${2:-900} old new start
        old=$(vm__boot_id "$name") || { vm_log "vm_reboot: $name does not answer"; return 1; }
        vm_ssh "$name" 'systemctl reboot' >/dev/null 2>&1 || true
        date +%s >"$(vm__dir "$name")/started"
        start=$(date +%s)
        while :; do
                sleep 3
                vm_wait "$name" "$timeout" || return 1
                new=$(vm__boot_id "$name") && [ -n "$new" ] && [ "$new" != "$old" ] && return 0
                if [ $(($(date +%s) - start)) -ge "$timeout" ]; then
                        vm_log "vm_reboot: $name did not reboot"
                        vm_console_tail "$name"
                        return 1
                fi
        done
}

# vm_detached_start NAME TAG CMD: runs the guest shell command CMD in its own
# session in the guest, output to /root/TAG.out, exit code to /root/TAG.rc.
# On a loaded host a TCG guest can stall for longer than SSH's 30 s
# keepalive; a command run in the SSH session would then end with it (exit
# 255, and the hang-up ends the command too).  vm_detached_wait collects it.
vm_detached_start() {
        local name=$1 tag=$2 cmd=$3 boot
        boot=$(vm__boot_id "$name") && [ -n "$boot" ] || { vm_log "vm_detached_start: $name does not answer"; return 1; }
        echo "$boot" >"$(vm__dir "$name")/$tag.boot"
        vm_ssh "$name" "rm -f /root/$tag.rc; setsid -f sh -c '($cmd) >/root/$tag.out 2>&1; echo \$? >/root/$tag.rc' </dev/null >/dev/null 2>&1"
}

# vm_detached_ended NAME TAG: true once the command of vm_detached_start
# has ended.
vm_detached_ended() {
        vm_ssh "$1" "test -s /root/$2.rc" 2>/dev/null
}

# vm_detached_wait NAME TAG [TIMEOUT]: waits for the command of
# vm_detached_start, prints its output and sets VM_RC to its exit code.
# Fails when the guest dies, boots again meanwhile, or TIMEOUT (3600 s)
# passes.
vm_detached_wait() {
        local name=$1 tag=$2 timeout=${3:-3600} boot b start
        boot=$(cat "$(vm__dir "$name")/$tag.boot")
        start=$(date +%s)
        VM_RC=
        until VM_RC=$(vm_ssh "$name" "cat /root/$tag.rc 2>/dev/null") && [ -n "$VM_RC" ]; do
                vm__alive "$name" || { vm_log "vm_detached_wait: $name died during $tag"; return 1; }
                b=$(vm__boot_id "$name") && [ -n "$b" ] && [ "$b" != "$boot" ] &&
                        { vm_log "vm_detached_wait: $name booted again before $tag's end was seen"; return 1; }
                [ $(($(date +%s) - start)) -lt "$timeout" ] || { vm_log "vm_detached_wait: $tag did not end within $timeout s"; return 1; }
                sleep 5
        done
        vm_ssh "$name" "cat /root/$tag.out"
}

vm__kill() { # NAME: kill -9 QEMU and wait until it is gone
        local dir pid i
        dir=$(vm__dir "$1")
        pid=$(cat "$dir/pid" 2>/dev/null) || return 0
        kill -9 "$pid" 2>/dev/null
        for ((i = 0; i < 100; i++)); do
                kill -0 "$pid" 2>/dev/null || break
                sleep 0.1
        done
        rm -f "$dir/pid"
}

# vm_hard_reset NAME [TIMEOUT]: a power cut.  Kills QEMU with SIGKILL and
# starts it again on the same disks and the same OVMF variables, then waits
# until SSH answers.
vm_hard_reset() {
        local name=$1
        vm__kill "$name"
        vm__console_mark "$(vm__dir "$name")/console.log" "hard reset"
        vm__launch "$name" && vm_wait "$name" "${2:-900}"
}

# vm_root_device NAME: the device the guest's / is mounted from (for
# example /dev/vda1, /dev/md0, /dev/mapper/vg0-root).
vm_root_device() {
        # A loaded host can stall a guest that just answered for longer than
        # one SSH session waits (seen once: an empty answer): try 3 times.
        local i src
        for i in 1 2 3; do
                src=$(vm_ssh "$1" 'findmnt -n -o SOURCE --target /') && [ -n "$src" ] && { echo "$src"; return 0; }
                [ $i = 3 ] || sleep 10
        done
        return 1
}

# vm_shutdown NAME [TIMEOUT]: a clean poweroff; SIGKILL if QEMU has not
# ended after TIMEOUT seconds (default 300, generous for a TCG guest on a
# loaded host: a kill turns the shutdown into a power cut).  Logs how long
# it took.
vm_shutdown() {
        local name=$1 timeout=${2:-300} start
        vm__alive "$name" || return 0
        start=$SECONDS
        # --no-block: systemctl returns at once, so ssh ends cleanly instead
        # of waiting for its connection to die with the guest.
        vm_ssh "$name" 'systemctl --no-block poweroff' >/dev/null 2>&1 || true
        while [ $((SECONDS - start)) -lt "$timeout" ]; do
                vm__alive "$name" || {
                        rm -f "$(vm__dir "$name")/pid"
                        vm_log "$name powered off after $((SECONDS - start)) s"
                        return 0
                }
                sleep 1
        done
        vm_log "vm_shutdown: $name does not power off within $timeout s; killing it"
        vm_console_tail "$name" 15
        vm__kill "$name"
}

# vm_detach_disk NAME SERIAL [TIMEOUT]: shuts the guest down, removes the
# disk with that serial (rr-sys, rr-t1, ...) as if it had been pulled, and
# boots it again without it: the way to boot an array degraded.
vm_detach_disk() {
        local name=$1 serial=$2 dir
        dir=$(vm__dir "$name")
        grep -q ":$serial:" "$dir/drives" || { vm_log "vm_detach_disk: no disk $serial"; return 1; }
        vm_shutdown "$name"
        grep -v ":$serial:" "$dir/drives" >"$dir/drives.new"
        mv "$dir/drives.new" "$dir/drives"
        # The disk that booted may be the one pulled: let the firmware try
        # every disk that is left.
        vm__launch "$name" && vm_wait "$name" "${3:-900}"
}

# vm_disk_sums NAME: "SERIAL SHA256" for every writable disk of the guest,
# read from the host files it runs on (the qcow2 overlay above the pristine
# image, the raw targets).  Run `sync` in the guest first: a guest flush
# reaches these files (cache=writeback).  The host reads a 4 GiB disk in
# seconds, where sha256sum inside a TCG guest takes minutes.
vm_disk_sums() {
        local f s mode fmt
        while IFS=: read -r f s mode fmt; do
                [ "$mode" = rw ] && echo "$s $(sha256sum <"$f" | cut -c1-64)"
        done <"$(vm__dir "$1")/drives"
        return 0
}

# vm_stop NAME: powers the guest off.  Its files go at exit.
vm_stop() { vm_shutdown "$1"; }

# vm_install_rootraid NAME [BUILD_DIR]: installs the host-built binary as
# /usr/local/sbin/rootraid and checks that it runs there (the guest is the
# same Debian release as the build host, so the shared libraries match).
vm_install_rootraid() {
        local name=$1 build=${2:-${ROOTRAID_BUILD_DIR:-}}
        [ -x "$build/rootraid" ] || { vm_log "no rootraid binary in '$build' (set ROOTRAID_BUILD_DIR)"; return 1; }
        vm_copy_in "$name" "$build/rootraid" /usr/local/sbin/rootraid || return 1
        vm_ssh "$name" 'rootraid version' >/dev/null || {
                vm_log "rootraid does not run in $name:"
                vm_ssh "$name" 'ldd /usr/local/sbin/rootraid | grep "not found"' >&2
                return 1
        }
}

# vm_dataset NAME create|verify DIR [MANIFEST] [...]: runs the data-set
# generator in the guest (copied in on first use).
vm_dataset() {
        local name=$1
        shift
        vm_ssh "$name" 'test -x /usr/local/bin/rootraid-dataset' ||
                vm_copy_in "$name" "$VM_LIB_DIR/dataset" /usr/local/bin/rootraid-dataset || return 1
        vm_ssh "$name" rootraid-dataset "$@"
}

vm__teardown() {
        local rc=$? d name
        # The reader of our stderr may be gone (a killed pipeline): the
        # guests must still go.
        trap '' PIPE
        [ -n "$VM_RUN_ROOT" ] && [ -d "$VM_RUN_ROOT" ] || return "$rc"
        if [ "${ROOTRAID_VM_KEEP:-0}" = 1 ]; then
                vm_log "keeping $VM_RUN_ROOT and its guests (ROOTRAID_VM_KEEP=1)"
                return "$rc"
        fi
        for d in "$VM_RUN_ROOT"/*/; do
                [ -f "$d/drives" ] && vm__kill "$(basename "$d")"
        done
        if [ "$rc" != 0 ]; then
                for d in "$VM_RUN_ROOT"/*/; do
                        [ -f "$d/console.log" ] && vm_console_tail "$(basename "$d")" 25
                done
        fi
        rm -rf "$VM_RUN_ROOT"
        return "$rc"
}
