#!/usr/bin/env bash
# tests/vm/capture-cycle.sh — one full kdump cycle in QEMU (TCG), the way an
# operator's machine runs it: Debian's 6.1 kernel boots (KASLR on) with
# crashkernel=, runs a workload, and `kexdump arm` loads the capture kernel
# with the capture initramfs that `kexdump initramfs` built (kexec_file_load);
# then `echo c > /proc/sysrq-trigger`. In the capture kernel the static
# `kexdump-capture` is PID 1: it loads the disk and file-system modules,
# finds the dump disk by LABEL/UUID, saves dmesg.txt, the dump and
# kexdump.json under crash/<time>-<host>/, and reboots (QEMU runs with
# -no-reboot and exits). The host then reads the dump disk back (debugfs for
# ext4, a read-back VM for xfs: no mount, no root).
#
#   tests/vm/capture-cycle.sh OUTDIR [options]
#     --mem SIZE            guest RAM (default 1G)
#     --crashkernel SIZE    crashkernel= reservation (default 256M)
#     --nokaslr             boot the primary with nokaslr
#     --smp N               vCPUs of the primary (default 2)
#     --cpus N              `kexdump arm --cpus N`: the capture kernel's
#                           nr_cpus= (default: arm's own, 1); -smp is raised
#                           to N when lower, so the guest has N CPUs to bring up
#     --fs ext4|xfs         the dump disk's file system (default ext4)
#     --bus virtio|nvme     the dump disk's controller (default virtio)
#     --disk-size SIZE      the sparse dump disk (default 1G)
#     --no-disk             no dump disk at all (the target is missing)
#     --disk-ro             the dump disk is read-only to the guests
#     --disk-late           the dump disk is plugged in (virtio) only when the
#                           capture starts waiting for it
#     --seed-dumps N        put N earlier captures (crash/2020010<i>-000000-old/,
#                           1 MB each) on the ext4 disk, for retention tests
#     --target SPEC         what the capture looks for (default LABEL=kxdump;
#                           the disk has that label and UUID $KX_DUMP_UUID)
#     --wait SECS           how long the capture waits for it (default 30)
#     --failure-action A    reboot|poweroff|halt (default reboot)
#     --initramfs-args ARGS more options for `kexdump initramfs`, one string
#                           (e.g. "--level 1 --compress zlib")
#     --kexdump FILE        the host CLI (default target/release/kexdump)
#     --capture-bin FILE    the static kexdump-capture (default
#                           target/x86_64-unknown-linux-gnu/release/kexdump-capture)
#     --timeout SECS        QEMU time limit (default 900)
#     --keep-work           keep the work directory (disk images, initramfs)
#   Faults (tests/vm/fault-tests.sh):
#     --kill-at PATTERN[+DELAY]  a power cut: SIGKILL QEMU DELAY seconds
#                           after the first serial line matching the extended
#                           regex PATTERN (e.g. 'kexdump-capture: +[5-9][0-9]%').
#                           The cycle fails if no line matches. The guest's RAM
#                           and page cache are lost, every write QEMU completed
#                           stays in the image.
#     --blkdebug RULES      put the dump disk behind QEMU's blkdebug driver
#                           with this rules file (cache=writeback, errors
#                           reported to the guest)
#     --fault-at PATTERN[+DELAY]=HMP  after that serial line, run the monitor
#                           command HMP (e.g. qemu-io kxd1 "write -z 0 512" to
#                           move blkdebug's state; the dump disk is drive kxd1)
#   After a fault the dump disk is read back from a copy whose journal was
#   replayed: e2fsck -fy for ext4 (its log in fsck.log, exit in cycle.env),
#   the read-back VM's mount for xfs.
#   Network (tests/vm/remote-tests.sh; servers from tests/vm/servers.sh, on
#   127.0.0.1 only; the guests' NIC is virtio-net, MAC 52:54:00:12:34:56, on
#   QEMU's user network with restrict=on, the server at 10.0.2.100):
#     --nic                 attach the NIC to an otherwise unchanged cycle
#                           (nothing forwarded; the capture does not use it)
#     --remote ssh|nfs      the capture saves to a server: ssh (sshd, SFTP
#                           only, chrooted; the dump lands in <dir>/crash/
#                           <time>-<host>/ as vmcore.flat) or nfs (ganesha,
#                           NFSv4, export /kxdump; <export>/crash/<time>-<host>/
#                           vmcore). `kexdump initramfs` gets --target
#                           ssh://root@10.0.2.100:22/dumps or
#                           nfs://10.0.2.100/kxdump, --net-mac, --net-driver
#                           virtio_net, --net-address (and --net-gateway), and
#                           for ssh --ssh-identity and --ssh-host-key. No dump
#                           disk unless --fallback.
#     --net-address dhcp|static  dhcp (default; slirp's DHCP gives 10.0.2.15/24
#                           and, under restrict=on, no router or DNS) or
#                           static: 10.0.2.15/24, gateway 10.0.2.2
#     --server-down         the server is started (for its keys) and stopped
#                           before the VM boots: a guest connection to
#                           10.0.2.100 is accepted by QEMU and closed at once
#     --wrong-host-key      (ssh) the image gets a host key the server has not
#     --throttle BYTES_PER_S  a proxy between QEMU and the server passes at most
#                           this many guest->server bytes a second
#     --cut-after BYTES     the proxy cuts the link after BYTES guest->server
#     --cut-mode reset|blackhole  how (default reset: RST to the guest, FIN to
#                           the server, later connections reset; blackhole:
#                           silence both ways, connections held open)
#     --fallback            also attach the dump disk (as without --remote) and
#                           pass --fallback LABEL=kxdump (the --target SPEC)
#
# Results in OUTDIR (emptied first):
#   fs/                   the dump disk's files, as the capture left them
#   server/               (--remote) what the server received: a copy of the
#                         SFTP dumps directory or of the NFS export
#   server-sshd.log, server-ganesha.log, proxy.log, guestfwd.log  (--remote)
#   dump                  symlink to fs/crash/<time>-<host>/ or, when the
#                         capture saved to the server, server/crash/<...>/
#   serial.log            the stamped serial console (host seconds)
#   initramfs.txt         `kexdump initramfs` report
#   cycle.env             KEY=VALUE facts: sizes, phase times, the status,
#                         SMP, CPUS (--cpus), the capture kernel's command
#                         line and percpu line, what PID 1 said it had
#                         (CAPTURE_CPUS_ONLINE, CAPTURE_MEM_*_MIB) and the
#                         record's THREADS;
#                         with --remote also REMOTE, FELL_BACK (0|1: the
#                         serial log says "falling back"), SERVER_DUMP_DIR,
#                         LOCAL_DUMP_DIR; DUMP_DIR/STATUS come from the server,
#                         or from the local disk when the capture fell back
#   fault.txt             what --kill-at / --fault-at did, and after which line
#   fsck.log              e2fsck's output on the copy (ext4, after a fault)
# Exit status 0 when the VM ran to its end (rebooted or powered off) — or was
# killed by --kill-at as asked — and the disk was read back; what was saved
# is for the caller to judge.
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
# shellcheck source=lib.sh
source "$HERE/lib.sh"
# shellcheck source=servers.sh
source "$HERE/servers.sh"
trap kx_srv_stop_all EXIT

usage() { sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit "${1:-2}"; }

outdir="" mem=1G ck=256M kaslr=1 smp=2 cpus="" timeout=900 keep=0 disk_size=1G
fs=ext4 bus=virtio disk=1 seed_dumps=0 target=LABEL=kxdump wait=30 failure_action=reboot initramfs_args=""
kill_at="" fault_at="" blkdebug="" disk_ro=0 disk_late=0
nic=0 remote="" net_address=dhcp server_down=0 wrong_host_key=0 throttle="" cut_after="" cut_mode=reset fallback=0
kexdump=$ROOT/target/release/kexdump
capture_bin=$ROOT/target/x86_64-unknown-linux-gnu/release/kexdump-capture
while (($#)); do
    case $1 in
    --mem) mem=$2; shift 2 ;;
    --crashkernel) ck=$2; shift 2 ;;
    --nokaslr) kaslr=0; shift ;;
    --smp) smp=$2; shift 2 ;;
    --cpus) cpus=$2; shift 2 ;;
    --fs) fs=$2; shift 2 ;;
    --bus) bus=$2; shift 2 ;;
    --disk-size) disk_size=$2; shift 2 ;;
    --no-disk) disk=0; shift ;;
    --disk-ro) disk_ro=1; shift ;;
    --disk-late) disk_late=1; shift ;;
    --seed-dumps) seed_dumps=$2; shift 2 ;;
    --target) target=$2; shift 2 ;;
    --wait) wait=$2; shift 2 ;;
    --failure-action) failure_action=$2; shift 2 ;;
    --initramfs-args) initramfs_args=$2; shift 2 ;;
    --kexdump) kexdump=$(realpath "$2"); shift 2 ;;
    --capture-bin) capture_bin=$(realpath "$2"); shift 2 ;;
    --timeout) timeout=$2; shift 2 ;;
    --keep-work) keep=1; shift ;;
    --kill-at) kill_at=$2; shift 2 ;;
    --fault-at) fault_at=$2; shift 2 ;;
    --blkdebug) blkdebug=$(realpath "$2"); shift 2 ;;
    --nic) nic=1; shift ;;
    --remote) remote=$2; shift 2 ;;
    --net-address) net_address=$2; shift 2 ;;
    --server-down) server_down=1; shift ;;
    --wrong-host-key) wrong_host_key=1; shift ;;
    --throttle) throttle=$2; shift 2 ;;
    --cut-after) cut_after=$2; shift 2 ;;
    --cut-mode) cut_mode=$2; shift 2 ;;
    --fallback) fallback=1; shift ;;
    -h | --help) usage 0 ;;
    -*) echo "unknown option $1" >&2; usage ;;
    *) [[ -z $outdir ]] || usage; outdir=$1; shift ;;
    esac
done
[[ -n $outdir ]] || usage
[[ -n $kill_at && -n $fault_at ]] && kx_die "--kill-at and --fault-at: one fault per cycle"
[[ -n $blkdebug && ! -f $blkdebug ]] && kx_die "no blkdebug rules file $blkdebug"
[[ -n $fault_at && $fault_at != *=* ]] && kx_die "--fault-at PATTERN[+DELAY]=HMP: no monitor command"
case $remote in
"") [[ $server_down$wrong_host_key$fallback == 000 && -z $throttle$cut_after && $net_address == dhcp ]] ||
        kx_die "--server-down, --wrong-host-key, --throttle, --cut-after, --fallback and --net-address need --remote" ;;
ssh | nfs) ;;
*) kx_die "--remote ssh|nfs, not $remote" ;;
esac
[[ $net_address == dhcp || $net_address == static ]] || kx_die "--net-address dhcp|static, not $net_address"
[[ $cut_mode == reset || $cut_mode == blackhole ]] || kx_die "--cut-mode reset|blackhole, not $cut_mode"
((wrong_host_key)) && [[ $remote != ssh ]] && kx_die "--wrong-host-key is for --remote ssh"
[[ -z $throttle || $throttle =~ ^[1-9][0-9]*$ ]] || kx_die "--throttle BYTES_PER_S, not $throttle"
[[ -z $cut_after || $cut_after =~ ^[1-9][0-9]*$ ]] || kx_die "--cut-after BYTES, not $cut_after"
((server_down)) && [[ -n $throttle$cut_after ]] && kx_die "--server-down: nothing to throttle or cut"
# A remote capture has no dump disk, unless it is the fallback.
[[ -n $remote ]] && ((!fallback)) && disk=0
[[ $smp =~ ^[1-9][0-9]*$ ]] || kx_die "--smp N, not $smp"
if [[ -n $cpus ]]; then
    [[ $cpus =~ ^[1-9][0-9]*$ ]] || kx_die "--cpus N, not $cpus"
    # The capture kernel can bring up no more CPUs than QEMU gives the guest.
    ((smp >= cpus)) || smp=$cpus
fi
mem_mib=$(kx_to_mib "$mem")
ck_mib=$(kx_to_mib "$ck")
((mem_mib > ck_mib + 256)) || kx_die "--mem $mem leaves too little beside crashkernel=$ck"

kx_need_cmds "$KX_QEMU" cpio zstd mkfs.ext4 debugfs python3 objcopy file timeout ldd tar
[[ $fs == xfs ]] && kx_need_cmds mkfs.xfs
kx_need_kernel
[[ -x $kexdump ]] || kx_die "no kexdump at $kexdump (cargo build --release)"
[[ -x $capture_bin ]] || kx_die "no kexdump-capture at $capture_bin; build it with:
  bash scripts/build-capture.sh"

mkdir -p "$outdir"
outdir=$(realpath "$outdir")
rm -rf "${outdir:?}"/{fs,fs.read-back.log,dump,serial.log,cycle.env,initramfs.txt,fault.txt,fsck.log,blkdebug.conf} \
    "${outdir:?}"/{server,server-sshd.log,server-ganesha.log,proxy.log,guestfwd.log}
name=cycle-$(basename "$outdir")
work=$KX_WORK/$name
rm -rf "$work"; mkdir -p "$work"
kx_log "work dir $work"

primary_append="console=ttyS0 crashkernel=$ck"
((kaslr)) || primary_append+=" nokaslr"

# ---------------------------------------------------------------- servers --
# The server (its keys go into the image), and what the guest's 10.0.2.100
# leads to: the server, the proxy in front of it, or a closed port.
net_args=()
((nic)) && net_args=(--net nic)
srv=$work/servers
remote_url="" server_dumps=""
if [[ -n $remote ]]; then
    kx_srv_need_pkgs
    export KX_SRV_LOGDIR=$srv
    mkdir -p "$srv"
    if [[ $remote == ssh ]]; then
        kx_srv_sshd "$srv/ssh"
        server_port=$KX_SSHD_PORT guest_port=22
        server_dumps=$KX_SSHD_DUMPS
        remote_url=ssh://$KX_SSHD_USER@10.0.2.100:22$KX_SSHD_DUMP_PATH
    else
        kx_srv_nfs "$srv/nfs"
        server_port=$KX_NFS_PORT guest_port=2049
        server_dumps=$KX_NFS_DIR
        remote_url=nfs://10.0.2.100$KX_NFS_EXPORT
    fi
    fwd_port=$server_port
    if ((server_down)); then
        kx_srv_stop_all
        kx_log "server stopped: 127.0.0.1:$server_port is closed"
    elif [[ -n $throttle$cut_after ]]; then
        proxy_opts=()
        [[ -n $throttle ]] && proxy_opts+=(--rate "$throttle")
        [[ -n $cut_after ]] && proxy_opts+=(--cut-after "$cut_after" --cut-mode "$cut_mode")
        kx_srv_proxy 0 "$server_port" "${proxy_opts[@]}" --log "$srv/proxy.log"
        fwd_port=$KX_PROXY_PORT
    fi
    rule=$(kx_srv_guestfwd "10.0.2.100:$guest_port" "$fwd_port" "$srv/guestfwd.log") || kx_die "kx_srv_guestfwd failed"
    net_args=(--net "$rule")
fi

# ------------------------------------------------------------------ build --
kx_phase_begin build
# The capture initramfs, built by kexdump itself from Debian's module tree.
initramfs_opts=(--output "$work/capture.img" --modules-dir "$KX_MODDIR" --capture-bin "$capture_bin"
    --wait-seconds "$wait" --failure-action "$failure_action")
if [[ -n $remote ]]; then
    initramfs_opts+=(--target "$remote_url" --net-mac "$KX_NET_MAC" --net-driver virtio_net)
    if [[ $net_address == static ]]; then
        initramfs_opts+=(--net-address 10.0.2.15/24 --net-gateway 10.0.2.2)
    else
        initramfs_opts+=(--net-address dhcp)
    fi
    if [[ $remote == ssh ]]; then
        hostkey=$KX_SSHD_HOSTKEY_PUB
        ((wrong_host_key)) && hostkey=$KX_SSHD_OTHER_HOSTKEY_PUB
        initramfs_opts+=(--ssh-identity "$KX_SSH_CLIENT_KEY" --ssh-host-key "$hostkey")
    fi
    # The local disk's file system and bus belong to the fallback target.
    ((fallback)) && initramfs_opts+=(--fallback "$target" --fstype "$fs" --bus "$bus")
else
    initramfs_opts+=(--target "$target" --fstype "$fs" --bus "$bus")
fi
# shellcheck disable=SC2086 # initramfs_args is a word list on purpose
"$kexdump" initramfs "${initramfs_opts[@]}" $initramfs_args >"$outdir/initramfs.txt" 2>&1 ||
    kx_die "kexdump initramfs failed: $(cat "$outdir/initramfs.txt")"
sed 's/^/  | /' "$outdir/initramfs.txt" >&2
capture_img_bytes=$(stat -c %s "$work/capture.img")
capture_cpio_bytes=$(zstd -qdc "$work/capture.img" | wc -c)

# The primary gets the host CLI (dynamic; its libraries come along) and an
# arm.sh that names the machine and runs `kexdump arm`.
overlay=$work/overlay
mkdir -p "$overlay/boot"
kx_copy_bin "$overlay" "$kexdump" /usr/bin/kexdump
arm_cpus=""
[[ -n $cpus ]] && arm_cpus=" --cpus $cpus"
cat >"$overlay/boot/arm.sh" <<EOF
#!/bin/sh
hostname kxvm-primary
/usr/bin/kexdump arm --kernel /boot/vmlinuz --initrd /boot/capture.img$arm_cpus
EOF
chmod 755 "$overlay/boot/arm.sh"
kx_build_primary "$work" "$work/capture.img" "$mem_mib" "$ck_mib" -s "$overlay"
disk_args=()
if ((disk)); then
    seed=""
    if ((seed_dumps > 0)); then
        seed=$work/seed
        install -d -m 700 "$seed/crash"
        for i in $(seq 1 "$seed_dumps"); do
            d=$seed/crash/2020010$i-000000-old
            install -d -m 700 "$d"
            printf '{"schema": "kexdump.capture/1", "status": "complete"}\n' >"$d/kexdump.json"
            head -c 1048576 /dev/zero >"$d/vmcore"
            chmod 600 "$d/kexdump.json" "$d/vmcore"
        done
    fi
    kx_make_dump_disk "$work/dump.img" "$disk_size" kxdump "$fs" "$seed"
    disk_args=(--disk "$work/dump.img,kxdump,$bus${blkdebug:+,$blkdebug}")
    ((disk_ro)) && disk_args=(--disk "$work/dump.img,kxdump,$bus,ro")
    if ((disk_late)); then
        [[ -z $fault_at && -z $kill_at ]] || kx_die "--disk-late uses the monitor: no other fault"
        disk_args=(--disk "$work/dump.img,kxdump,virtio,late")
        fault_at="kexdump-capture: waiting up to+2=device_add virtio-blk-pci,drive=kxd1,serial=kxdump,id=kxlate"
    fi
    [[ -n $blkdebug ]] && cp "$blkdebug" "$outdir/blkdebug.conf"
fi
kx_phase_end build
kx_log "capture initramfs: $capture_img_bytes bytes zstd ($capture_cpio_bytes unpacked)"

# -------------------------------------------------------------------- run --
remote_desc=""
if [[ -n $remote ]]; then
    remote_desc="; remote: $remote_url"
    if ((fallback)); then remote_desc+=" (fallback $target)"; fi
fi
kx_log "booting: -m $mem -smp $smp${cpus:+ (capture --cpus $cpus)}, append: $primary_append; dump disk: $( ((disk)) && echo "$fs on $bus, $disk_size" || echo none)$remote_desc"
log=$work/serial.log
kx_phase_begin qemu
t_qemu0=$(kx_now)
rc=0
fault_args=()
[[ -n $kill_at ]] && fault_args=(--kill-at "$kill_at")
[[ -n $fault_at ]] && fault_args=(--fault-at "$fault_at")
kx_qemu_run --log "$log" --timeout "$timeout" --mem "$mem" --smp "$smp" \
    --initrd "$work/primary.img" --append "$primary_append" \
    --disk "$work/work.ext4,kxwork" "${disk_args[@]}" "${fault_args[@]}" "${net_args[@]}" || rc=$?
t_qemu_exit=$(awk -v a="$t_qemu0" -v b="$(kx_now)" 'BEGIN{printf "%.2f", b-a}')
kx_phase_end qemu
cp "$log" "$outdir/serial.log"
if [[ -n $remote ]]; then
    # Stopped before the copy: nothing is still writing (a cut session, NFS).
    kx_srv_stop_all
    [[ -f $srv/ssh/sshd.log ]] && cp "$srv/ssh/sshd.log" "$outdir/server-sshd.log"
    [[ -f $srv/nfs/ganesha.log ]] && cp "$srv/nfs/ganesha.log" "$outdir/server-ganesha.log"
    [[ -f $srv/proxy.log ]] && cp "$srv/proxy.log" "$outdir/proxy.log"
    [[ -f $srv/guestfwd.log ]] && cp "$srv/guestfwd.log" "$outdir/guestfwd.log"
    mkdir -p "$outdir/server"
    cp -a "$server_dumps/." "$outdir/server/" || kx_die "cannot copy $server_dumps to $outdir/server"
fi
grep -E 'KXVM:|kexdump-capture:|kexdump arm|armed' "$log" >&2 || true
killed=0
if [[ -n $kill_at || -n $fault_at ]]; then
    [[ -f $log.fault ]] || kx_die "the fault was never injected: $(cat "$log.fault.none" 2>/dev/null || echo "QEMU exited $rc first"); see $outdir/serial.log"
    cp "$log.fault" "$outdir/fault.txt"
    sed 's/^/  fault: /' "$log.fault" >&2
fi
if [[ -n $kill_at ]]; then
    ((rc == 137)) || kx_die "QEMU exited $rc after the power cut (expected 137: SIGKILL); see $outdir/serial.log"
    killed=1
else
    ((rc == 0)) || kx_die "QEMU exited $rc (124: timed out after ${timeout}s); see $outdir/serial.log"
fi
if [[ -n $fault_at ]] && tail -n +2 "$log.fault" | grep -qiE 'error|failed|not found|unknown|no such'; then
    kx_die "the monitor command failed: $(tail -n +2 "$log.fault")"
fi
if grep -q 'KXVM: FAIL' "$log"; then
    grep -B15 -m1 'KXVM: FAIL' "$log" | sed 's/^/  | /' >&2
    kx_die "guest failed: $(grep -m1 'KXVM: FAIL' "$log")"
fi
if ! grep -q 'kexdump-capture: kexdump .* capture:' "$log"; then
    grep -q 'Kernel panic - not syncing' "$log" || kx_die "the primary never crashed; see $outdir/serial.log"
    if awk '/Kernel panic - not syncing/ {p = 1} p && /Out of memory|out_of_memory|deadlocked on memory/ {f = 1} END {exit !f}' "$log"; then
        kx_die "the capture kernel ran out of memory before /init (crashkernel=$ck is too small); see $outdir/serial.log"
    fi
    kx_die "the capture kernel never started kexdump-capture; see $outdir/serial.log"
fi
end_line=$(grep -m1 -E 'kexdump-capture: (reboot|poweroff|halt) \(after' "$log" || true)
if ((!killed)) && [[ -z $end_line ]]; then
    # A capture that ran out of memory while saving (page cache, the
    # compression threads' buffers: more CPUs need more) never ends.
    if awk '/kexdump-capture: kexdump .* capture:/ {p = 1} p && /Out of memory|out_of_memory|deadlocked on memory/ {f = 1} END {exit !f}' "$log"; then
        kx_die "the capture kernel ran out of memory during the capture (crashkernel=$ck is too small${cpus:+ for --cpus $cpus}); see $outdir/serial.log"
    fi
    kx_die "kexdump-capture never reached its final action; see $outdir/serial.log"
fi

# Phases, from the host stamps on the serial log.
mt() { kx_log_marker_time "$log" "$1" || true; }  # "" when the step never ran
sub() { [[ -n $1 && -n $2 ]] && awk -v a="$1" -v b="$2" 'BEGIN{printf "%.1f", b-a}' || echo ""; }
t_armed=$(mt 'KXVM: armed')
t_panic=$(mt 'Kernel panic - not syncing')
t_cinit=$(mt 'kexdump-capture: kexdump .* capture:')
t_mods=$(mt 'kexdump-capture: loaded [0-9]+ of')
t_mount=$(mt 'kexdump-capture: mounted')
t_net=$(mt 'kexdump-capture: network up')
t_conn=$(mt 'kexdump-capture: connected to')
t_fallback=$(mt 'kexdump-capture: falling back to')
t_dmesg=$(mt 'kexdump-capture: saved dmesg.txt')
t_saved=$(mt 'kexdump-capture: (saved vmcore|ERROR: the dump)')
t_end=$(mt 'kexdump-capture: (reboot|poweroff|halt) \(after')
kx_phase_record "  panic -> capture init" "$(sub "$t_panic" "$t_cinit")"
kx_phase_record "  module load" "$(sub "$t_cinit" "$t_mods")"
t_ready=$t_mount  # the target is there: mounted, or connected over ssh
if [[ -n $remote ]]; then
    [[ $remote == ssh && -n $t_conn ]] && t_ready=$t_conn
    kx_phase_record "  network up" "$(sub "$t_mods" "$t_net")"
    if [[ -n $t_fallback ]]; then
        kx_phase_record "  network up -> falling back" "$(sub "$t_net" "$t_fallback")"
        kx_phase_record "  falling back -> mounted" "$(sub "$t_fallback" "$t_mount")"
    else
        kx_phase_record "  connect/mount the server" "$(sub "$t_net" "$t_ready")"
    fi
else
    kx_phase_record "  find disk + mount" "$(sub "$t_mods" "$t_mount")"
fi
kx_phase_record "  dmesg.txt" "$(sub "$t_ready" "$t_dmesg")"
kx_phase_record "  dump" "$(sub "$t_dmesg" "$t_saved")"
kx_phase_record "  record, sync, umount" "$(sub "$t_saved" "$t_end")"
kx_phase_record "  final action -> QEMU exit" "$(sub "$t_end" "$t_qemu_exit")"
kx_phase_record "  panic -> final action" "$(sub "$t_panic" "$t_end")"

# What the capture kernel had: its command line and per-CPU area (the first
# such lines after the panic: the primary's own come before it), and PID 1's
# line of CPUs and memory (pid1/resources.rs).
after_panic() { awk -v re="$1" '/Kernel panic - not syncing/ {p = 1} p && $0 ~ re {print; exit}' "$log"; }
capture_cmdline=$(after_panic 'Command line: ') || kx_die "reading the capture command line from $log failed"
capture_cmdline=${capture_cmdline#*Command line: }
capture_percpu=$(after_panic 'percpu: Embedded') || kx_die "reading the percpu line from $log failed"
capture_percpu=${capture_percpu#*percpu: }
res_line=$(grep -m1 -E 'kexdump-capture: [0-9]+ CPUs? online; memory' "$log" || true)
res_cpus="" res_total="" res_avail="" res_free=""
if [[ -n $res_line ]]; then
    res_cpus=$(sed -E 's/.*kexdump-capture: ([0-9]+) CPUs? online.*/\1/' <<<"$res_line") || kx_die "parsing: $res_line"
    res_total=$(sed -nE 's/.* total ([0-9.]+) MiB.*/\1/p' <<<"$res_line") || kx_die "parsing: $res_line"
    res_avail=$(sed -nE 's/.* available ([0-9.]+) MiB.*/\1/p' <<<"$res_line") || kx_die "parsing: $res_line"
    res_free=$(sed -nE 's/.* free ([0-9.]+) MiB.*/\1/p' <<<"$res_line") || kx_die "parsing: $res_line"
fi
kx_log "capture kernel: ${res_line#*kexdump-capture: }; cmdline: $capture_cmdline"

# ---------------------------------------------------------------- extract --
dump_dir=""
status=""
if ((disk)); then
    kx_phase_begin extract
    img=$work/dump.img
    fsck_rc=""
    if ((killed)) || [[ -n $blkdebug ]]; then
        # What a reboot would find: the journal replayed, on a copy.
        cp --sparse=always "$img" "$work/dump-replayed.img"
        img=$work/dump-replayed.img
        if [[ $fs == ext4 ]]; then
            fsck_rc=0
            e2fsck -fy "$img" >"$outdir/fsck.log" 2>&1 || fsck_rc=$?
            kx_log "e2fsck -fy on the copy: exit $fsck_rc"
        fi
    fi
    kx_read_back "$img" "$fs" "$outdir/fs"
    mapfile -t dirs < <(find "$outdir/fs/crash" -mindepth 1 -maxdepth 1 -type d ! -name '*-old' 2>/dev/null | LC_ALL=C sort)
    if ((${#dirs[@]} == 1)); then
        dump_dir=${dirs[0]}
        ln -sfn "${dump_dir#"$outdir"/}" "$outdir/dump"
        # After a fault the record may be cut: "unreadable" is for the caller to judge.
        if [[ -f $dump_dir/kexdump.json ]]; then
            status=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["status"])' "$dump_dir/kexdump.json" 2>/dev/null) ||
                status=unreadable
        fi
    elif ((${#dirs[@]} > 1)); then
        kx_die "expected one crash/* directory, found: ${dirs[*]}"
    fi
    kx_phase_end extract
fi
local_dump_dir=$dump_dir
net_desc=""
((nic)) && net_desc="nic-only"
[[ -n $remote ]] && net_desc=$net_address
# A remote capture: what the server received decides, unless the capture
# said it fell back (then the local disk's dump, read back above).
fell_back=0 server_dump_dir="" fallback_line=""
if [[ -n $remote ]]; then
    fallback_line=$(grep -m1 'kexdump-capture: falling back to' "$log" || true)
    [[ -n $fallback_line ]] && fell_back=1
    mapfile -t sdirs < <(find "$outdir/server/crash" -mindepth 1 -maxdepth 1 -type d 2>/dev/null | LC_ALL=C sort)
    ((${#sdirs[@]} <= 1)) || kx_die "expected at most one crash/* directory on the server, found: ${sdirs[*]}"
    ((${#sdirs[@]} == 1)) && server_dump_dir=${sdirs[0]}
    if ((!fell_back)); then
        dump_dir=$server_dump_dir status=""
        if [[ -n $dump_dir ]]; then
            ln -sfn "${dump_dir#"$outdir"/}" "$outdir/dump"
            if [[ -f $dump_dir/kexdump.json ]]; then
                status=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["status"])' "$dump_dir/kexdump.json" 2>/dev/null) ||
                    status=unreadable
            fi
        else
            rm -f "$outdir/dump"
        fi
    fi
    kx_log "remote $remote: fell back: $fell_back; on the server: $(cd "$outdir/server" && find . -type f -printf '%P %s\n' | LC_ALL=C sort | paste -sd';')"
fi

# The compression threads the capture used, as its record says.
threads=""
if [[ -n $dump_dir && -f $dump_dir/kexdump.json ]]; then
    threads=$(python3 -c 'import json,sys; print((json.load(open(sys.argv[1])).get("dump") or {}).get("threads") or "")' \
        "$dump_dir/kexdump.json" 2>/dev/null) || threads=unreadable
fi

cat >"$outdir/cycle.env" <<EOF
DUMP_DIR=$dump_dir
STATUS=$status
REMOTE=$remote
FELL_BACK=$fell_back
FALLBACK_LINE='${fallback_line//\'/}'
SERVER_DUMP_DIR=$server_dump_dir
LOCAL_DUMP_DIR=$local_dump_dir
NET=$net_desc
THROTTLE=$throttle
CUT_AFTER=$cut_after
KILLED=$killed
FSCK_RC=${fsck_rc:-}
END_LINE='${end_line//\'/}'
MEM=$mem
CRASHKERNEL=$ck
SMP=$smp
CPUS=$cpus
CAPTURE_CMDLINE='${capture_cmdline//\'/}'
CAPTURE_PERCPU='${capture_percpu//\'/}'
CAPTURE_CPUS_ONLINE=$res_cpus
CAPTURE_MEM_TOTAL_MIB=$res_total
CAPTURE_MEM_AVAILABLE_MIB=$res_avail
CAPTURE_MEM_FREE_MIB=$res_free
THREADS=$threads
FS=$fs
BUS=$bus
CAPTURE_IMG_BYTES=$capture_img_bytes
CAPTURE_CPIO_BYTES=$capture_cpio_bytes
T_ARMED=$t_armed
T_PANIC_TO_INIT=$(sub "$t_panic" "$t_cinit")
T_MODULES=$(sub "$t_cinit" "$t_mods")
T_MOUNT=$(sub "$t_mods" "$t_mount")
T_NET=$(sub "$t_mods" "$t_net")
T_CONNECT=$(sub "$t_net" "$t_ready")
T_DMESG=$(sub "$t_ready" "$t_dmesg")
T_DUMP=$(sub "$t_dmesg" "$t_saved")
T_FINISH=$(sub "$t_saved" "$t_end")
T_PANIC_TO_SAVED=$(sub "$t_panic" "$t_saved")
T_PANIC_TO_END=$(sub "$t_panic" "$t_end")
T_PANIC_TO_EXIT=$(sub "$t_panic" "$t_qemu_exit")
EOF

((keep)) || rm -rf "$work"
kx_log "end: ${end_line#*] }"
[[ -n $dump_dir ]] && kx_log "saved: $(cd "$dump_dir" && ls -l | tail -n +2 | awk '{print $1, $5, $9}' | paste -sd';')"
kx_phase_summary >&2
