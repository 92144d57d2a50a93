# shellcheck shell=bash
# tests/vm/lib.sh — reusable pieces of kexdump's QEMU kdump harness.
#
# Source it from bash (`source tests/vm/lib.sh`); it defines kx_* functions
# and KX_* variables and changes no shell options of the caller.
#
#   cache     KX_CACHE, KX_KVER, KX_KDIR, KX_VMLINUZ, KX_MODDIR, KX_VMLINUX,
#             KX_VMCORES, KX_WORK          (all overridable from the env)
#   staging   kx_stage_skeleton, kx_stage_busybox, kx_copy_bin, kx_stage_file,
#             kx_stage_init
#   modules   kx_mod_index, kx_mod_path, kx_mod_resolve, kx_mod_closure,
#             kx_stage_modules
#   images    kx_make_cpio, kx_make_raw_disk, kx_make_ext4_disk, kx_seed_file
#   qemu      kx_qemu_run (timeout, serial console stamped with host time;
#             --net: a NIC on a restricted user network, KX_NET_MAC)
#   cycle     kx_to_mib, KX_CAPTURE_APPEND, kx_build_primary (the crashing
#             guest: workload, arm, echo c), kx_make_dump_disk, kx_read_back
#   vmcore    kx_elf_core_size, kx_vmcoreinfo, kx_log_marker_time,
#             kx_harness_hash (KX_HARNESS_HASH: keys cached vmcores)
#   tools     kx_build_kxmem (KX_KXMEM: the static matrix workload)
#   timing    kx_phase_begin, kx_phase_end, kx_phase_summary
#
# Everything downloaded or built lives in the cache, never in the repository.
# Nothing here needs KVM: QEMU always runs with `-accel tcg` (with KVM the
# guest hangs in the BIOS on these machines).

KX_KVER=${KEXDUMP_KVER:-6.1.0-56-amd64}
KX_CACHE=${KEXDUMP_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/kexdump}
KX_KDIR=${KX_KDIR:-$KX_CACHE/linux-$KX_KVER}
# Two package layouts: up to 6.1 the image has boot/vmlinuz-<ver> and
# lib/modules/<ver>/; from 6.12 (usr-merged) modules are under
# usr/lib/modules/<ver>/, and 7.x's linux-binary-<ver> ships the kernel as
# usr/lib/modules/<ver>/vmlinuz with no boot/ at all.
if [[ -z ${KX_MODDIR:-} ]]; then
    KX_MODDIR=$KX_KDIR/lib/modules/$KX_KVER
    [[ -d $KX_MODDIR ]] || KX_MODDIR=$KX_KDIR/usr/lib/modules/$KX_KVER
fi
if [[ -z ${KX_VMLINUZ:-} ]]; then
    KX_VMLINUZ=$KX_KDIR/boot/vmlinuz-$KX_KVER
    [[ -f $KX_VMLINUZ ]] || KX_VMLINUZ=$KX_MODDIR/vmlinuz
fi
KX_VMLINUX=${KX_VMLINUX:-$KX_CACHE/vmlinux-$KX_KVER}
KX_VMCORES=${KX_VMCORES:-$KX_CACHE/vmcores}
KX_WORK=${KX_WORK:-$KX_CACHE/vm-work}
KX_BUSYBOX=${KX_BUSYBOX:-/bin/busybox}
# 4-level paging like nearly every production x86_64 machine: TCG's "max"
# CPU would otherwise offer LA57 and Debian's kernel (X86_5LEVEL=y) uses it.
KX_QEMU_CPU=${KX_QEMU_CPU:-max,la57=off}
KX_QEMU=${KX_QEMU:-qemu-system-x86_64}

# Deterministic archives and images.
export SOURCE_DATE_EPOCH=${SOURCE_DATE_EPOCH:-0}

kx_log() { printf '%s %s\n' "[vm $(date +%H:%M:%S)]" "$*" >&2; }
kx_die() { kx_log "ERROR: $*"; exit 1; }

# kx_need_cmds CMD... — fail early, naming the package to install.
kx_need_cmds() {
    local c missing=()
    for c in "$@"; do command -v "$c" >/dev/null 2>&1 || missing+=("$c"); done
    ((${#missing[@]} == 0)) || kx_die "missing commands: ${missing[*]} (run: bash scripts/deps.sh)"
}

# kx_need_kernel — the extracted Debian kernel must be in the cache.
kx_need_kernel() {
    [[ -f $KX_VMLINUZ ]] || kx_die "no kernel at $KX_VMLINUZ (run: bash scripts/deps.sh)"
    [[ -d $KX_MODDIR ]] || kx_die "no modules at $KX_MODDIR (run: bash scripts/deps.sh)"
}

# ---------------------------------------------------------------- timing --
declare -gA KX_PHASE_T0=()
declare -ga KX_PHASES=()
kx_now() { printf '%s' "${EPOCHREALTIME/,/.}"; }
kx_phase_begin() { KX_PHASE_T0[$1]=$(kx_now); kx_log "phase $1 ..."; }
# kx_phase_end NAME — prints and records the wall time of NAME.
kx_phase_end() {
    local t0=${KX_PHASE_T0[$1]:?phase $1 not begun} dt
    dt=$(awk -v a="$t0" -v b="$(kx_now)" 'BEGIN{printf "%.1f", b-a}')
    KX_PHASES+=("$1=$dt")
    kx_log "phase $1: ${dt}s"
}
# kx_phase_record NAME SECONDS — record a time measured elsewhere.
kx_phase_record() { KX_PHASES+=("$1=$2"); kx_log "phase $1: ${2}s"; }
kx_phase_summary() {
    local p
    printf 'phase times (wall, s):\n'
    for p in "${KX_PHASES[@]}"; do printf '  %-28s %8s\n' "${p%%=*}" "${p#*=}"; done
}

# --------------------------------------------------------------- staging --
# kx_stage_skeleton ROOT — the directories every initramfs here needs.
kx_stage_skeleton() {
    local root=$1
    mkdir -p "$root"/{bin,sbin,usr/bin,usr/sbin,dev,proc,sys,tmp,mnt,run,boot,etc,lib/modules,lib64,root}
    # The kernel opens /dev/console for PID 1 before devtmpfs is mounted;
    # without the node the init's stdio is closed. cpio of a char device
    # needs root; when not root, rely on devtmpfs (mounted first by /init).
    if [[ $(id -u) -eq 0 && ! -e $root/dev/console ]]; then
        mknod -m 600 "$root/dev/console" c 5 1
        mknod -m 666 "$root/dev/null" c 1 3
    fi
}

# kx_stage_busybox ROOT — static busybox as /bin/busybox plus one symlink per
# applet in /bin (so scripts may call `mount`, `insmod`, `dd` directly).
kx_stage_busybox() {
    local root=$1 a
    file -L "$KX_BUSYBOX" | grep -q 'statically linked' ||
        kx_die "$KX_BUSYBOX is not static (install busybox-static)"
    install -m 755 "$KX_BUSYBOX" "$root/bin/busybox"
    for a in $("$KX_BUSYBOX" --list); do
        [[ $a == busybox ]] && continue
        [[ -e $root/bin/$a ]] || ln -s busybox "$root/bin/$a"
    done
}

# kx_stage_file ROOT SRC DEST [MODE] — copy one file to ROOT/DEST.
kx_stage_file() {
    local root=$1 src=$2 dest=$3 mode=${4:-644}
    mkdir -p "$root/$(dirname "$dest")"
    install -m "$mode" "$src" "$root/$dest"
}

# kx_stage_init ROOT SCRIPT — a guest script as ROOT/init, with the helpers
# every guest /init sources (guest/common.sh as /lib/kxvm-common.sh).
kx_stage_init() {
    kx_stage_file "$1" "$2" init 755
    kx_stage_file "$1" "$(dirname "${BASH_SOURCE[0]}")/guest/common.sh" lib/kxvm-common.sh
}

# kx_copy_bin ROOT BIN [DEST] — copy a (possibly dynamic) executable to
# ROOT/DEST (default: same path as BIN) together with every shared library
# ldd lists, at the same paths, plus the ELF interpreter.
kx_copy_bin() {
    local root=$1 bin=$2 dest=${3:-$2} lib
    bin=$(command -v "$bin" || echo "$bin")
    [[ -f $bin ]] || kx_die "kx_copy_bin: no $bin"
    kx_stage_file "$root" "$bin" "$dest" 755
    # ldd lines: "libx.so => /path (0x..)", "/lib64/ld-linux-x86-64.so.2 (0x..)"
    while read -r lib; do
        [[ -n $lib && -f $lib ]] || continue
        mkdir -p "$root/$(dirname "$lib")"
        cp -L "$lib" "$root/$lib"
    done < <(ldd "$bin" 2>/dev/null | awk '/=>/ {print $3; next} /^[ \t]*\// {print $1}')
}

# --------------------------------------------------------------- modules --
# Module dependencies come from depmod's own indexes (modules.dep,
# modules.softdep, modules.alias, modules.builtin), generated once per kernel
# into a hard-linked copy of the module tree in the cache: the kernel's
# extracted tree stays as the .deb ships it (no modules.dep), so kexdump's own
# .modinfo path stays what `kexdump initramfs` exercises, and the harness has an
# independent answer. Names are normalised '-' -> '_'.
#
# Nothing here runs in a subshell: a failure calls kx_die, which ends the
# script (inside `$(...)` it would end only the subshell and be lost).
kx_mod_norm() { printf '%s' "${1//-/_}"; }

# kx_mod_index — build (once per kernel, cached) and load (once per shell)
# depmod's view of KX_MODDIR: KX_MOD_FILE[name]=path, KX_MOD_DEP[name]="deps",
# KX_MOD_SOFT[name]="pre softdeps", KX_MOD_ALIAS[alias]="modules",
# KX_MOD_BUILTIN[name]=1.
kx_mod_index() {
    [[ -n ${KX_MOD_INDEX_BUILT:-} ]] && return 0
    local base=$KX_CACHE/depmod/$KX_KVER
    KX_DEPDIR=$base/lib/modules/$KX_KVER
    if [[ ! -s $KX_DEPDIR/modules.dep ]]; then
        kx_log "depmod: indexing the modules of $KX_KVER into $base"
        rm -rf "$base.part" && mkdir -p "$base.part/lib/modules" || kx_die "cannot create $base.part"
        cp -rl "$KX_MODDIR" "$base.part/lib/modules/$KX_KVER" 2>/dev/null ||
            cp -r "$KX_MODDIR" "$base.part/lib/modules/$KX_KVER" ||
            kx_die "cannot copy $KX_MODDIR for depmod"
        # depmod replaces its output files by rename: the hard links into the
        # extracted kernel are never written through.
        rm -f "$base.part/lib/modules/$KX_KVER"/modules.{dep,softdep,alias,symbols}*
        PATH=$PATH:/sbin:/usr/sbin depmod -b "$base.part" "$KX_KVER" ||
            kx_die "depmod -b $base.part $KX_KVER failed (install kmod)"
        [[ -s $base.part/lib/modules/$KX_KVER/modules.dep ]] || kx_die "depmod wrote no modules.dep for $KX_KVER"
        rm -rf "$base" && mv "$base.part" "$base" || kx_die "cannot move $base.part into place"
    fi
    declare -gA KX_MOD_FILE=() KX_MOD_DEP=() KX_MOD_SOFT=() KX_MOD_ALIAS=() KX_MOD_BUILTIN=()
    local path deps name d line m rest
    # modules.dep: "kernel/fs/xfs/xfs.ko[.xz]: kernel/lib/libcrc32c.ko[.xz] ..."
    while IFS= read -r line; do
        path=${line%%:*}
        deps=${line#*:}
        name=${path##*/}; name=$(kx_mod_norm "${name%%.ko*}")
        KX_MOD_FILE[$name]=$KX_MODDIR/$path
        rest=
        for d in $deps; do d=${d##*/}; rest+=" $(kx_mod_norm "${d%%.ko*}")"; done
        KX_MOD_DEP[$name]=$rest
    done <"$KX_DEPDIR/modules.dep"
    # modules.softdep: "softdep ext4 pre: crc32c" (only pre: matters for load order).
    if [[ -f $KX_DEPDIR/modules.softdep ]]; then
        while read -r line m rest; do
            [[ $line == softdep ]] || continue
            rest=${rest#pre:}; rest=${rest%%post:*}
            KX_MOD_SOFT[$(kx_mod_norm "$m")]=$rest
        done <"$KX_DEPDIR/modules.softdep"
    fi
    if [[ -f $KX_DEPDIR/modules.alias ]]; then
        while read -r line d m; do
            [[ $line == alias ]] || continue
            [[ $d == *[*?[]* ]] && continue
            d=$(kx_mod_norm "$d")
            KX_MOD_ALIAS[$d]+=" $(kx_mod_norm "$m")"
        done <"$KX_DEPDIR/modules.alias"
    fi
    if [[ -f $KX_DEPDIR/modules.builtin ]]; then
        while IFS= read -r path; do
            name=${path##*/}
            KX_MOD_BUILTIN[$(kx_mod_norm "${name%%.ko*}")]=1
        done <"$KX_DEPDIR/modules.builtin"
    fi
    ((${#KX_MOD_FILE[@]} > 0)) || kx_die "no modules in $KX_DEPDIR/modules.dep"
    KX_MOD_INDEX_BUILT=1
}

# kx_mod_path NAME — path of NAME.ko[.xz|.zst|.gz] under KX_MODDIR.
kx_mod_path() {
    kx_mod_index
    local want
    want=$(kx_mod_norm "$1")
    [[ -n ${KX_MOD_FILE[$want]:-} ]] || return 1
    printf '%s\n' "${KX_MOD_FILE[$want]}"
}

# kx_mod_cat PATH — the uncompressed bytes of a module on stdout.
kx_mod_cat() {
    case $1 in
    *.ko.xz) xz -dc "$1" ;;
    *.ko.zst) zstd -qdc "$1" ;;
    *.ko.gz) gzip -dc "$1" ;;
    *) cat "$1" ;;
    esac
}

# kx_mod_resolve NAME — sets KX_MOD_RESOLVED to the module that provides NAME
# (itself, or the provider of an alias such as crc32c), or to "" when NAME is
# built into the kernel. Returns 1 when nothing provides it.
kx_mod_resolve() {
    local n p
    n=$(kx_mod_norm "$1")
    KX_MOD_RESOLVED=
    if [[ -n ${KX_MOD_FILE[$n]:-} ]]; then KX_MOD_RESOLVED=$n; return 0; fi
    [[ -n ${KX_MOD_BUILTIN[$n]:-} ]] && return 0
    for p in ${KX_MOD_ALIAS[$n]:-}; do
        [[ -n ${KX_MOD_BUILTIN[$p]:-} ]] && return 0
    done
    # Several modules may provide an alias (crc32c: crc32c_intel,
    # crc32c_generic): the generic one loads on any CPU.
    for p in ${KX_MOD_ALIAS[$n]:-}; do
        if [[ $p == *_generic && -n ${KX_MOD_FILE[$p]:-} ]]; then KX_MOD_RESOLVED=$p; return 0; fi
    done
    for p in ${KX_MOD_ALIAS[$n]:-}; do
        if [[ -n ${KX_MOD_FILE[$p]:-} ]]; then KX_MOD_RESOLVED=$p; return 0; fi
    done
    return 1
}

# kx_mod_closure NAME... — sets KX_MOD_ORDER to NAME... and all their hard
# and pre-soft dependencies, dependencies first (insmod order), each once.
# Built-in modules are skipped; a NAME nothing provides is fatal, a softdep
# nothing provides is logged (the kernel loads without it too).
kx_mod_closure() {
    kx_mod_index
    declare -gA KX_MOD_SEEN=()
    declare -ga KX_MOD_ORDER=()
    local m
    for m in "$@"; do
        kx_mod_resolve "$m" || kx_die "module $m is neither a module of $KX_KVER, built in, nor an alias of one"
        [[ -n $KX_MOD_RESOLVED ]] && _kx_mod_visit "$KX_MOD_RESOLVED"
    done
    return 0
}
_kx_mod_visit() {
    local n=$1 d
    [[ -n ${KX_MOD_SEEN[$n]:-} ]] && return 0
    KX_MOD_SEEN[$n]=1
    for d in ${KX_MOD_SOFT[$n]:-}; do
        if kx_mod_resolve "$d"; then
            [[ -n $KX_MOD_RESOLVED ]] && _kx_mod_visit "$KX_MOD_RESOLVED"
        else
            kx_log "note: softdep $d of $n: no provider in $KX_KVER"
        fi
    done
    for d in ${KX_MOD_DEP[$n]:-}; do
        [[ -n ${KX_MOD_FILE[$d]:-} ]] || kx_die "modules.dep of $KX_KVER: $n needs $d, which has no file"
        _kx_mod_visit "$d"
    done
    KX_MOD_ORDER+=("$n")
}

# kx_stage_modules ROOT NAME... — copy the closure of NAME... uncompressed to
# ROOT/lib/modules/NAME.ko and write ROOT/lib/modules/load-order (one name a
# line, insmod order). busybox insmod cannot read compressed modules.
kx_stage_modules() {
    local root=$1 n
    shift
    kx_mod_closure "$@"
    mkdir -p "$root/lib/modules"
    : >"$root/lib/modules/load-order"
    for n in "${KX_MOD_ORDER[@]}"; do
        kx_mod_cat "${KX_MOD_FILE[$n]}" >"$root/lib/modules/$n.ko" ||
            kx_die "cannot decompress ${KX_MOD_FILE[$n]}"
        echo "$n" >>"$root/lib/modules/load-order"
    done
}

# What a guest needs, by the modules that do the job: their dependencies
# (virtio_pci's transports, ext4's crc16/mbcache/jbd2 and crc32c softdep)
# come from depmod, so the lists hold on 5.10 through 7.x, where some of them
# are built in.
KX_MODS_VIRTIO_BLK=(virtio_pci virtio_blk)
KX_MODS_EXT4=(ext4)

# ---------------------------------------------------------------- images --
# kx_make_cpio ROOT OUT [zstd|gzip|none] [WLOG] — newc archive of ROOT,
# sorted, owned by root, mtimes = SOURCE_DATE_EPOCH: same tree -> same bytes.
# WLOG caps zstd's window at 2^WLOG bytes: the kernel unpacks an initramfs
# with a window-sized buffer, which counts in a small crashkernel= (zstd -19
# otherwise uses a window as large as the archive, up to 8 MiB).
# KX_ZSTD_LEVEL (default 19) trades the harness's own images' size for build
# time; the capture initramfs is built by `kexdump initramfs`, never here.
kx_make_cpio() {
    local root=$1 out=$2 comp=${3:-zstd} wlog=${4:-}
    local -a zopts=("-${KX_ZSTD_LEVEL:-19}")
    [[ -n $wlog ]] && zopts+=("--zstd=wlog=$wlog")
    find "$root" -exec touch -h -d "@$SOURCE_DATE_EPOCH" {} +
    (cd "$root" && find . -mindepth 1 -printf '%P\n' | LC_ALL=C sort |
        cpio -o -H newc -R 0:0 --reproducible --quiet) >"$out.cpio"
    case $comp in
    zstd) zstd -q -f "${zopts[@]}" -T0 --rm "$out.cpio" -o "$out" ;;
    gzip) gzip -n -9 <"$out.cpio" >"$out" && rm -f "$out.cpio" ;;
    none) mv "$out.cpio" "$out" ;;
    *) kx_die "kx_make_cpio: unknown compression $comp" ;;
    esac
}

# kx_seed_file OUT BYTES SEED — deterministic incompressible bytes.
kx_seed_file() {
    python3 - "$1" "$2" "$3" <<'EOF'
import random, sys
out, n, seed = sys.argv[1], int(sys.argv[2]), sys.argv[3]
r = random.Random(seed)
with open(out, "wb") as f:
    left = n
    while left:
        k = min(left, 1 << 22)
        f.write(r.randbytes(k))
        left -= k
EOF
}

# kx_make_raw_disk OUT SIZE — a sparse raw disk (SIZE as for truncate).
kx_make_raw_disk() { rm -f "$1" && truncate -s "$2" "$1"; }

# kx_make_ext4_disk OUT SIZE DIR — ext4 image filled from DIR, fixed UUID
# and hash seed so the same DIR gives the same image.
kx_make_ext4_disk() {
    local out=$1 size=$2 dir=$3
    rm -f "$out" && truncate -s "$size" "$out"
    find "$dir" -exec touch -h -d "@$SOURCE_DATE_EPOCH" {} +
    E2FSPROGS_FAKE_TIME=$SOURCE_DATE_EPOCH mkfs.ext4 -q -F -d "$dir" -L kxwork \
        -U 6b657864-756d-7000-0000-000000000001 \
        -E hash_seed=6b657864-756d-7000-0000-000000000002,lazy_itable_init=0,nodiscard \
        "$out" >/dev/null
}

# ------------------------------------------------------------------ qemu --
# kx_qemu_run [options] — boot one VM under TCG, serial console to a log file
# whose lines are prefixed with host seconds since QEMU start ("[  12.34] ").
#   --log FILE        stamped serial log (required)
#   --timeout SECS    kill QEMU after SECS (default 600); rc 124 then
#   --mem SIZE        guest RAM (default 1G)
#   --smp N           vCPUs (default 2)
#   --kernel FILE     (default KX_VMLINUZ)
#   --initrd FILE
#   --append STRING   kernel command line
#   --disk FILE,SERIAL[,BUS[,BLKDEBUG|ro|late]]  a raw disk whose serial is SERIAL
#                     (repeatable; PCI order = argument order; drive ids
#                     kxd0, kxd1, ...). BUS virtio (default) or nvme.
#                     ro: read-only to the guest. late: the drive only, no
#                     device (hot-plug it with device_add through --fault-at).
#                     BLKDEBUG: a blkdebug rules file put between the disk and
#                     its image (error injection); such a disk runs with
#                     cache=writeback, so guest flushes reach blkdebug
#                     (cache=unsafe drops them), and werror/rerror=report.
#   --kill-at PATTERN[+DELAY]  SIGKILL QEMU DELAY seconds (default 0) after
#                     the first serial line matching the extended regex
#                     PATTERN (a power cut: the guest's RAM and page cache are
#                     lost; every write QEMU completed is in the image, as on
#                     a disk without a volatile cache). Written to LOG.fault.
#   --fault-at PATTERN[+DELAY]=HMP  run the monitor command HMP instead (e.g.
#                     qemu-io kxd1 "write -z 0 512", which fires blkdebug's
#                     pwritev_zero event: a state change the guest never
#                     causes). Its output goes to LOG.fault.
#   --net RULE        a NIC: virtio-net-pci with MAC $KX_NET_MAC on QEMU's
#                     user network (slirp) with restrict=on (the guest reaches
#                     nothing on the host or beyond), net 10.0.2.0/24, gateway
#                     10.0.2.2, slirp's DHCP answering from 10.0.2.15; RULE is
#                     one guestfwd rule, e.g. "tcp:10.0.2.100:22-cmd:CMD"
#                     (tests/vm/servers.sh: kx_srv_guestfwd), repeatable; "nic"
#                     adds the NIC with no rule. Without --net: no NIC at all.
# Returns QEMU's exit status (0 after a guest poweroff/reboot: -no-reboot;
# 137 after --kill-at killed it).
KX_NET_MAC=52:54:00:12:34:56
kx_qemu_run() {
    local log="" timeout=600 mem=1G smp=2 kernel=$KX_VMLINUZ initrd="" append=""
    local kill_at="" fault_at="" nic=0
    local -a disks=() args=() fwds=()
    while (($#)); do
        case $1 in
        --log) log=$2; shift 2 ;;
        --timeout) timeout=$2; shift 2 ;;
        --mem) mem=$2; shift 2 ;;
        --smp) smp=$2; shift 2 ;;
        --kernel) kernel=$2; shift 2 ;;
        --initrd) initrd=$2; shift 2 ;;
        --append) append=$2; shift 2 ;;
        --disk) disks+=("$2"); shift 2 ;;
        --kill-at) kill_at=$2; shift 2 ;;
        --fault-at) fault_at=$2; shift 2 ;;
        --net) nic=1; [[ $2 == nic ]] || fwds+=("$2"); shift 2 ;;
        *) kx_die "kx_qemu_run: unknown option $1" ;;
        esac
    done
    [[ -n $log ]] || kx_die "kx_qemu_run: --log is required"
    rm -f "$log.pid" "$log.fault" "$log.fault.none" "$log.monitor"
    args=(-accel tcg -machine pc -cpu "$KX_QEMU_CPU" -smp "$smp" -m "$mem"
          -nodefaults -no-reboot -display none
          -serial stdio -pidfile "$log.pid"
          -kernel "$kernel" -append "$append")
    if ((nic)); then
        local netdev="user,id=n0,restrict=on,net=10.0.2.0/24,host=10.0.2.2,dhcpstart=10.0.2.15" f
        # QEMU's option syntax: a comma inside a value is written ",,".
        for f in "${fwds[@]}"; do netdev+=",guestfwd=${f//,/,,}"; done
        args+=(-netdev "$netdev" -device "virtio-net-pci,netdev=n0,mac=$KX_NET_MAC")
    else
        args+=(-nic none)
    fi
    if [[ -n $fault_at ]]; then
        args+=(-monitor "unix:$log.monitor,server=on,wait=off")
    else
        args+=(-monitor none)
    fi
    [[ -n $initrd ]] && args+=(-initrd "$initrd")
    # --disk FILE,SERIAL[,nvme]: a raw image on virtio-blk (default) or on
    # an NVMe controller; the guest finds it by SERIAL.
    local i=0 d file serial bus dbg
    for d in "${disks[@]}"; do
        IFS=, read -r file serial bus dbg <<<"$d"
        if [[ $dbg == late ]]; then
            :
        elif [[ $dbg == ro ]]; then
            # read-only to the guest: virtio-blk and NVMe report it, the
            # kernel sets /sys/class/block/*/ro.
            args+=(-drive "file=$file,format=raw,if=none,id=kxd$i,readonly=on")
        elif [[ -n $dbg ]]; then
            [[ -f $dbg ]] || kx_die "kx_qemu_run: no blkdebug rules file $dbg"
            args+=(-drive "driver=raw,if=none,id=kxd$i,cache=writeback,werror=report,rerror=report,file.driver=blkdebug,file.config=$dbg,file.image.driver=file,file.image.filename=$file")
        else
            args+=(-drive "file=$file,format=raw,if=none,id=kxd$i,cache=unsafe")
        fi
        if [[ $dbg == late ]]; then
            # No device yet: a test plugs it in later through the monitor
            # (device_add virtio-blk-pci,drive=kxdN,serial=SERIAL).
            args+=(-drive "file=$file,format=raw,if=none,id=kxd$i,cache=unsafe")
            i=$((i + 1))
            continue
        fi
        case ${bus:-virtio} in
        virtio) args+=(-device "virtio-blk-pci,drive=kxd$i,serial=$serial") ;;
        nvme) args+=(-device "nvme,drive=kxd$i,serial=$serial") ;;
        *) kx_die "kx_qemu_run: unknown disk bus $bus" ;;
        esac
        i=$((i + 1))
    done
    printf '%q ' "$KX_QEMU" "${args[@]}" >"$log.cmd"; echo >>"$log.cmd"
    local t0 rc watcher=""
    t0=$(kx_now)
    : >"$log"
    if [[ -n $kill_at ]]; then
        _kx_watch "$log" "$kill_at" kill &
        watcher=$!
    elif [[ -n $fault_at ]]; then
        _kx_watch "$log" "${fault_at%%=*}" "${fault_at#*=}" &
        watcher=$!
    fi
    set +e
    timeout --foreground -k 10 "$timeout" "$KX_QEMU" "${args[@]}" </dev/null 2>"$log.stderr" |
        _kx_stamp "$t0" >"$log"
    rc=${PIPESTATUS[0]}
    set -e
    if [[ -n $watcher ]]; then
        kill "$watcher" 2>/dev/null || true
        wait "$watcher" 2>/dev/null || true
    fi
    ((rc == 124)) && kx_log "QEMU timed out after ${timeout}s (log: $log)"
    return "$rc"
}

# _kx_watch LOG PATTERN[+DELAY] ACTION — background helper of kx_qemu_run:
# poll LOG until a line matches the extended regex PATTERN, wait DELAY
# seconds, then ACTION: "kill" sends SIGKILL to QEMU (pid in LOG.pid), any
# other text is a monitor (HMP) command sent to LOG.monitor. What was done,
# with the matching line, goes to LOG.fault; LOG.fault.none says the
# pattern never came. Ends when QEMU is gone.
_kx_watch() {
    local log=$1 spec=$2 action=$3 pat delay=0 line pid
    if [[ $spec =~ ^(.*)\+([0-9]+(\.[0-9]+)?)$ ]]; then
        pat=${BASH_REMATCH[1]} delay=${BASH_REMATCH[2]}
    else
        pat=$spec
    fi
    while :; do
        line=$(grep -m1 -E -- "$pat" "$log" 2>/dev/null) && break
        # QEMU writes its pid file at start; once it has one and is gone,
        # the pattern never came.
        if [[ -s $log.pid ]] && ! kill -0 "$(cat "$log.pid")" 2>/dev/null; then
            echo "no line matched $pat" >"$log.fault.none"
            return 0
        fi
        sleep 0.05
    done
    sleep "$delay"
    if [[ $action == kill ]]; then
        pid=$(cat "$log.pid" 2>/dev/null) || return 0
        kill -KILL "$pid" 2>/dev/null || return 0
        printf 'kill -KILL %s, %ss after: %s\n' "$pid" "$delay" "$line" >"$log.fault"
    else
        {
            printf 'monitor: %s, %ss after: %s\n' "$action" "$delay" "$line"
            _kx_hmp "$log.monitor" "$action" 2>&1
        } >"$log.fault"
    fi
}

# _kx_hmp SOCKET COMMAND — one human monitor command; prints its output.
_kx_hmp() {
    python3 - "$1" "$2" <<'EOF'
import socket, sys
s = socket.socket(socket.AF_UNIX)
s.connect(sys.argv[1])
s.settimeout(10)
def until_prompt():
    buf = b""
    while not buf.endswith(b"(qemu) "):
        chunk = s.recv(4096)
        if not chunk:
            break
        buf += chunk
    return buf.decode(errors="replace")
until_prompt()
s.sendall(sys.argv[2].encode() + b"\n")
out = until_prompt().replace("\r", "")
# The monitor echoes the command line first; print what follows it.
print(out.split("\n", 1)[1].rsplit("(qemu)", 1)[0].strip() if "\n" in out else out)
EOF
}

# _kx_stamp T0 — prefix each line of stdin with host seconds since T0.
_kx_stamp() {
    local t0=${1/./} line now dt
    while IFS= read -r line || [[ -n $line ]]; do
        now=$(kx_now); now=${now/./}
        dt=$(( (10#$now - 10#$t0) / 10000 ))   # centiseconds
        line=${line//$'\r'/}
        printf '[%5d.%02d] %s\n' $((dt / 100)) $((dt % 100)) "$line"
    done
}

# kx_log_marker_time LOG REGEX — host seconds stamped on the first line of
# LOG matching REGEX (empty if none).
kx_log_marker_time() {
    grep -m1 -E -- "$2" "$1" | sed -n 's/^\[ *\([0-9.]*\)\].*/\1/p'
}

# ----------------------------------------------------------------- cycle --
# kx_to_mib 1G|512M|1024 -> MiB
kx_to_mib() {
    local v=${1^^}
    case $v in
    *G) echo $((${v%G} * 1024)) ;;
    *M) echo "${v%M}" ;;
    *) echo "$v" ;;
    esac
}

# The capture kernel's command line, close to what kdump-tools / kdump-utils
# pass.
KX_CAPTURE_APPEND="console=ttyS0 nr_cpus=1 irqpoll reset_devices panic=10 \
cgroup_disable=memory mce=off numa=off transparent_hugepage=never \
acpi_no_memhotplug novmcoredd cma=0 hugetlb_cma=0"

# kx_build_primary WORK CAPTURE_INITRD MEM_MIB CK_MIB KEXEC_FLAGS [OVERLAY
# [WORKLOAD]] — the crashing guest: WORK/primary.img (busybox, kexec, virtio
# + ext4 modules, the Debian kernel, CAPTURE_INITRD as /boot/capture.img,
# guest/primary-init.sh as /init, /etc/kxvm.conf with workload sizes scaled
# to MEM_MIB - CK_MIB) and WORK/work.ext4 (the work disk, serial kxwork,
# holding seeded data). OVERLAY is copied over the root last. WORKLOAD
# "matrix" adds /bin/kxmem (guest/kxmem.c: anonymous THP, hugetlb, tmpfs
# huge=always, shmem, slab, free pages) after the default workload.
kx_build_primary() {
    local work=$1 capture_initrd=$2 mem_mib=$3 ck_mib=$4 kexec_flags=$5 overlay=${6:-} workload=${7:-default}
    local here proot usable
    here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
    # Workload sizes (MiB), scaled to the RAM left beside the reservation.
    usable=$((mem_mib - ck_mib))
    local WL_SEED=$((usable / 8)) WL_WRITTEN=$((usable / 24)) WL_DIRTY=$((usable / 96))
    local WL_SHM=$((usable / 16)) WL_SHM_ZERO=$((usable / 48)) WL_FREED=$((usable / 24))
    local WL_ANON=$((usable / 16)) WL_ANON_ZERO=$((usable / 24))

    proot=$work/primary-root
    kx_stage_skeleton "$proot"
    kx_stage_busybox "$proot"
    kx_stage_modules "$proot" "${KX_MODS_VIRTIO_BLK[@]}" "${KX_MODS_EXT4[@]}"
    command -v kexec >/dev/null && kx_copy_bin "$proot" "$(command -v kexec)" /sbin/kexec
    kx_stage_file "$proot" "$KX_VMLINUZ" boot/vmlinuz
    kx_stage_file "$proot" "$capture_initrd" boot/capture.img
    kx_stage_init "$proot" "$here/guest/primary-init.sh"
    cat >"$proot/etc/kxvm.conf" <<EOF
KEXEC_FLAGS='$kexec_flags'
CAPTURE_APPEND='$KX_CAPTURE_APPEND'
WL_WRITTEN=$WL_WRITTEN WL_DIRTY=$WL_DIRTY WL_SHM=$WL_SHM WL_SHM_ZERO=$WL_SHM_ZERO
WL_FREED=$WL_FREED WL_ANON=$WL_ANON WL_ANON_ZERO=$WL_ANON_ZERO
WORKLOAD=$workload
EOF
    case $workload in
    default) ;;
    matrix)
        kx_build_kxmem
        kx_stage_file "$proot" "$KX_KXMEM" bin/kxmem 755
        # Sizes (MiB, huge pages of 2 MiB, counts) scaled like the rest.
        cat >>"$proot/etc/kxvm.conf" <<EOF
MX_THP=$((usable / 12)) MX_HUGEPAGES=$((usable / 24)) MX_HUGETLB_ANON=$((usable / 96))
MX_HUGETLB_FILE=$((usable / 96)) MX_TMPFS=$((usable / 24)) MX_SHMEM=$((usable / 48))
MX_FILES=$((usable * 40)) MX_DIRS=$((usable / 2)) MX_SOCKETS=$((usable * 4 / 3)) MX_FREE=$((usable / 24))
EOF
        ;;
    *) kx_die "kx_build_primary: unknown workload $workload" ;;
    esac
    if [[ -n $overlay ]]; then cp -a "$overlay/." "$proot/"; fi
    kx_make_cpio "$proot" "$work/primary.img" zstd

    mkdir -p "$work/workfs"
    kx_seed_file "$work/workfs/seed.bin" $((WL_SEED * 1048576)) kexdump-vm-seed
    kx_make_ext4_disk "$work/work.ext4" $((WL_SEED * 2 + 64))M "$work/workfs"
    rm -rf "$work/workfs"
}

# kx_make_dump_disk OUT SIZE [LABEL] — an empty sparse ext4 image for dumps,
# fully initialised on the host (no lazy inode-table init in the guest).
# The dump target's file system UUID (fixed, so a test can name it).
KX_DUMP_UUID=6b657864-756d-7000-0000-000000000003
# kx_make_dump_disk OUT SIZE [LABEL [FSTYPE [SEED_DIR]]] — SEED_DIR's files
# are copied in (ext4 only), e.g. earlier dumps for a retention test.
kx_make_dump_disk() {
    local out=$1 size=$2 label=${3:-kxdump} fstype=${4:-ext4} seed=${5:-}
    local -a populate=()
    [[ -n $seed ]] && populate=(-d "$seed")
    [[ -n $seed && $fstype != ext4 ]] && kx_die "kx_make_dump_disk: seeding needs ext4"
    rm -f "$out" && truncate -s "$size" "$out"
    case $fstype in
    ext4)
        E2FSPROGS_FAKE_TIME=$SOURCE_DATE_EPOCH mkfs.ext4 -q -F -L "$label" -U "$KX_DUMP_UUID" "${populate[@]}" \
            -E hash_seed=6b657864-756d-7000-0000-000000000004,lazy_itable_init=0,lazy_journal_init=0,nodiscard \
            "$out" >/dev/null ;;
    xfs) mkfs.xfs -q -f -L "$label" -m uuid="$KX_DUMP_UUID" -K "$out" >/dev/null ;;
    *) kx_die "kx_make_dump_disk: unsupported file system $fstype" ;;
    esac
}

# kx_read_back IMAGE FSTYPE OUTDIR — copy the whole file system in IMAGE
# to OUTDIR without mounting it on the host (no root, no loop devices):
# debugfs for ext4; for other file systems a short VM boot whose busybox
# /init (guest/read-back-init.sh) mounts it read-only and tars it onto a
# raw disk, which the host untars (modes kept).
kx_read_back() {
    local img=$1 fstype=$2 outdir=$3 work here
    mkdir -p "$outdir"
    if [[ $fstype == ext4 ]]; then
        debugfs -R "rdump / $outdir" "$img" 2>"$outdir.debugfs.err" ||
            kx_die "debugfs rdump of $img failed: $(cat "$outdir.debugfs.err")"
        rm -f "$outdir.debugfs.err"
        return
    fi
    here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
    work=$KX_WORK/read-back-$fstype
    rm -rf "$work"; mkdir -p "$work"
    kx_stage_skeleton "$work/root"
    kx_stage_busybox "$work/root"
    local -a mods=("${KX_MODS_VIRTIO_BLK[@]}")
    case $fstype in
    xfs) mods+=(xfs) ;;
    *) kx_die "kx_read_back: unsupported file system $fstype" ;;
    esac
    kx_stage_modules "$work/root" "${mods[@]}"
    kx_stage_init "$work/root" "$here/guest/read-back-init.sh"
    echo "FSTYPE=$fstype" >"$work/root/etc/kxread.conf"
    kx_make_cpio "$work/root" "$work/read.img" zstd
    kx_make_raw_disk "$work/tar.raw" "$(stat -c %s "$img")"
    kx_qemu_run --log "$work/serial.log" --timeout 300 --mem 512M --smp 1 \
        --initrd "$work/read.img" --append "console=ttyS0 quiet" \
        --disk "$img,kxdump" --disk "$work/tar.raw,kxout" ||
        kx_die "the read-back VM failed; see $work/serial.log"
    # Kept beside OUTDIR: after a power cut it shows the log recovery.
    cp "$work/serial.log" "$outdir.read-back.log"
    grep -q 'KXVM: read-back done' "$work/serial.log" ||
        kx_die "the read-back VM did not finish: $(grep -m1 'KXVM: FAIL' "$work/serial.log")"
    tar -xf "$work/tar.raw" -C "$outdir" || kx_die "untarring the read-back of $img failed"
    rm -rf "$work"
}

# ---------------------------------------------------------------- vmcore --
# kx_elf_core_size FILE — bytes an ELF core occupies: max over the ELF
# header, program headers and every segment of offset+filesz. For a copy of
# /proc/vmcore this equals the size stat() reports there.
kx_elf_core_size() {
    python3 - "$1" <<'EOF'
import struct, sys
with open(sys.argv[1], "rb") as f:
    eh = f.read(64)
    if eh[:4] != b"\x7fELF" or eh[4] != 2 or eh[5] != 1:
        sys.exit("not a little-endian ELF64 file")
    e_type, = struct.unpack_from("<H", eh, 16)
    if e_type != 4:
        sys.exit("not ET_CORE (e_type=%d)" % e_type)
    phoff, = struct.unpack_from("<Q", eh, 32)
    phentsize, phnum = struct.unpack_from("<HH", eh, 54)
    if phnum == 0xFFFF:  # PN_XNUM: real count in section header 0's sh_info
        shoff, = struct.unpack_from("<Q", eh, 40)
        f.seek(shoff)
        phnum, = struct.unpack_from("<I", f.read(64), 44)
    end = max(64, phoff + phentsize * phnum)
    f.seek(phoff)
    ph = f.read(phentsize * phnum)
    for i in range(phnum):
        p_type, _, p_offset, _, _, p_filesz, _, _ = struct.unpack_from("<IIQQQQQQ", ph, i * phentsize)
        if p_filesz:
            end = max(end, p_offset + p_filesz)
print(end)
EOF
}

# kx_vmcoreinfo FILE — the VMCOREINFO note's text of an ELF vmcore.
kx_vmcoreinfo() {
    python3 - "$1" <<'EOF'
import struct, sys
with open(sys.argv[1], "rb") as f:
    eh = f.read(64)
    phoff, = struct.unpack_from("<Q", eh, 32)
    phentsize, phnum = struct.unpack_from("<HH", eh, 54)
    f.seek(phoff)
    ph = f.read(phentsize * phnum)
    for i in range(phnum):
        p_type, _, p_offset, _, _, p_filesz, _, _ = struct.unpack_from("<IIQQQQQQ", ph, i * phentsize)
        if p_type != 4:  # PT_NOTE
            continue
        f.seek(p_offset)
        notes = f.read(p_filesz)
        off = 0
        while off + 12 <= len(notes):
            namesz, descsz, ntype = struct.unpack_from("<III", notes, off)
            name = notes[off + 12: off + 12 + namesz].rstrip(b"\0")
            doff = off + 12 + ((namesz + 3) & ~3)
            if name == b"VMCOREINFO":
                sys.stdout.write(notes[doff: doff + descsz].rstrip(b"\0").decode())
                sys.exit(0)
            off = doff + ((descsz + 3) & ~3)
sys.exit("no VMCOREINFO note")
EOF
}

# kx_harness_hash — sets KX_HARNESS_HASH to 12 hex digits of the SHA-256
# of everything that decides what a vmcore made here holds: lib.sh,
# make-vmcore.sh and guest/* (the guest /init scripts, kxmem.c). Cached
# vmcores carry it in their names, so a change to the harness makes new ones.
kx_harness_hash() {
    local here f
    here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
    local -a files=("$here/lib.sh" "$here/make-vmcore.sh")
    for f in "$here"/guest/*; do files+=("$f"); done
    for f in "${files[@]}"; do [[ -f $f && -r $f ]] || kx_die "kx_harness_hash: cannot read $f"; done
    KX_HARNESS_HASH=$( (for f in "${files[@]}"; do printf '%s\n' "${f##*/}"; cat "$f"; done) | sha256sum)
    KX_HARNESS_HASH=${KX_HARNESS_HASH:0:12}
    [[ $KX_HARNESS_HASH =~ ^[0-9a-f]{12}$ ]] || kx_die "kx_harness_hash: cannot hash ${files[*]}"
}

# kx_build_kxmem — sets KX_KXMEM to the static matrix workload built from
# guest/kxmem.c (gcc -static -O2), cached as $KX_CACHE/tools/kxmem-<hash of
# the source>.
kx_build_kxmem() {
    local src sum out
    src=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/guest/kxmem.c
    [[ -f $src ]] || kx_die "no $src"
    sum=$(sha256sum "$src")
    sum=${sum:0:12}
    [[ $sum =~ ^[0-9a-f]{12}$ ]] || kx_die "cannot hash $src"
    out=$KX_CACHE/tools/kxmem-$sum
    if [[ ! -x $out ]]; then
        kx_need_cmds gcc file
        mkdir -p "$KX_CACHE/tools" || kx_die "cannot create $KX_CACHE/tools"
        gcc -static -O2 -Wall -Wextra -Werror -o "$out.part" "$src" || kx_die "gcc -static $src failed (is libc6-dev installed?)"
        file "$out.part" | grep -q 'statically linked' || kx_die "$out.part is not static"
        mv -f "$out.part" "$out" || kx_die "cannot move $out.part into place"
        kx_log "built $out"
    fi
    KX_KXMEM=$out
}

# kx_crash_ok DUMP: crash -s with the debug vmlinux: sys, bt and log run, the panic is named, no error lines.
kx_crash_ok() {
    local out
    out=$(printf 'sys\nbt\nlog\nq\n' | timeout 600 crash -s "$KX_VMLINUX" "$1" 2>&1) || { echo "$out" | tail; return 1; }
    grep -q 'PANIC: "Kernel panic - not syncing: sysrq triggered crash"' <<<"$out" || { echo "$out" | head -30; return 1; }
    grep -q 'sysrq_handle_crash' <<<"$out" || { echo "no sysrq_handle_crash in bt"; return 1; }
    grep -q 'Kernel panic - not syncing: sysrq triggered crash' <<<"$out" || return 1
    if echo "$out" | grep -E '^(crash: |bt: |log: )' | grep -v 'WARNING'; then return 1; fi
}
