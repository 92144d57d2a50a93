# shellcheck shell=bash
# tests/vm/servers.sh — the dump servers of the network tests: an sshd with
# SFTP, an NFSv4 server (nfs-ganesha), and a TCP proxy that slows or cuts the
# link. Everything listens on 127.0.0.1 only, on free ports, with its own
# configuration, keys, pid and log files under the directory it is given;
# the guest reaches them through QEMU's user network (kx_qemu_run --net,
# guestfwd rules to 10.0.2.100), never through anything else.
#
# Source it from bash after lib.sh (it sources lib.sh itself otherwise); it
# defines kx_srv_* functions and KX_SRV_* / KX_SSHD_* / KX_NFS_* variables
# and changes no shell options of the caller.
#
#   kx_srv_need_pkgs     openssh-server/-client, nfs-ganesha(-vfs), python3
#                        installed with apt-get when missing (idempotent; no
#                        service is started or left enabled by the install)
#   kx_srv_free_port     a free TCP port on 127.0.0.1 (printed)
#   kx_srv_sshd DIR      sshd on 127.0.0.1:KX_SSHD_PORT, SFTP only, chrooted
#                        to DIR; keys made in DIR. Exports KX_SSHD_PORT,
#                        KX_SSHD_USER (root), KX_SSHD_HOSTKEY_PUB ("type
#                        base64"), KX_SSHD_OTHER_HOSTKEY_PUB (a key the server
#                        does not have: the wrong-host-key case),
#                        KX_SSH_CLIENT_KEY (private key file), KX_SSHD_DUMPS
#                        (DIR/dumps, 0700: where dumps land on the host) and
#                        KX_SSHD_DUMP_PATH (/dumps: the same directory as the
#                        SFTP client sees it, absolute or relative to its
#                        start directory, which is the chroot's /)
#   kx_srv_sshd_check DIR  the system ssh/sftp client against it: login with
#                        the client key, host key checked against its own
#                        known_hosts (StrictHostKeyChecking yes), put, rename,
#                        and a login with a wrong known host key refused
#   kx_srv_nfs DIR       nfs-ganesha, NFSv4 only, on 127.0.0.1:KX_NFS_PORT,
#                        exporting DIR/export (rw, no root squash, insecure
#                        ports) as KX_NFS_EXPORT (/kxdump). Exports KX_NFS_PORT,
#                        KX_NFS_EXPORT, KX_NFS_DIR (DIR/export)
#   kx_srv_proxy LISTEN_PORT TARGET_PORT [--rate BYTES_PER_S]
#                [--cut-after BYTES] [--cut-mode reset|blackhole] [--log FILE]
#                        tests/tools/tcp_proxy.py on 127.0.0.1:LISTEN_PORT (0:
#                        a free one) -> 127.0.0.1:TARGET_PORT. Exports
#                        KX_PROXY_PORT; its log (default
#                        $KX_SRV_LOGDIR/proxy-PORT.log) in KX_PROXY_LOG
#   kx_srv_guestfwd IP:PORT HOST_PORT  one guestfwd rule for kx_qemu_run --net:
#                        each guest connection to IP:PORT runs
#                        `tcp_proxy.py --stdio` connected to 127.0.0.1:HOST_PORT
#   kx_srv_stop_all      stop everything started here (put it in a trap)
#
# Why guestfwd runs a command (cmd:) and not `-tcp:127.0.0.1:PORT`: with the
# chardev form QEMU connects to the port once, at start (before the guest
# runs), and refuses to start when nothing listens there; that single stream
# carries one guest connection at most and sshd's banner is sent into it
# before any guest connects. The cmd: form connects per guest connection.
# Either way slirp accepts the guest's SYN itself: with the server down the
# guest sees its connection accepted and then closed, never refused.

if ! declare -F kx_log >/dev/null; then
    # shellcheck source=lib.sh
    source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
fi

KX_SRV_TOOLS=$(cd "$(dirname "${BASH_SOURCE[0]}")/../tools" && pwd)
declare -ga KX_SRV_PIDS=()
declare -gA KX_SRV_WHAT=()

# kx_srv_need_pkgs — install what the servers need, once. The packages'
# maintainer scripts would start sshd on 0.0.0.0:22 and rpcbind on
# 0.0.0.0:111; a policy-rc.d refusing every start is in place during the
# install (when the host has none), and the units of the packages installed
# here are disabled afterwards, so nothing listens beyond what the tests
# start on 127.0.0.1.
kx_srv_need_pkgs() {
    local p missing=() policy=/usr/sbin/policy-rc.d own_policy=0 sudo=""
    [[ $(id -u) -eq 0 ]] || sudo=sudo
    for p in openssh-server openssh-client nfs-ganesha nfs-ganesha-vfs python3; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
    done
    if ((${#missing[@]})); then
        kx_log "servers: installing ${missing[*]}"
        if [[ ! -e $policy ]]; then
            printf '#!/bin/sh\n# kexdump tests/vm/servers.sh: no service starts during this install\nexit 101\n' |
                $sudo tee "$policy" >/dev/null && $sudo chmod 755 "$policy" && own_policy=1
        fi
        $sudo apt-get update -qq &&
            DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
        local rc=$?
        ((own_policy)) && $sudo rm -f "$policy"
        ((rc == 0)) || kx_die "apt-get install ${missing[*]} failed"
        if command -v systemctl >/dev/null; then
            local -a units=()
            for p in "${missing[@]}"; do
                case $p in
                openssh-server) units+=(ssh.service ssh.socket) ;;
                nfs-ganesha) units+=(nfs-ganesha.service rpcbind.service rpcbind.socket) ;;
                esac
            done
            ((${#units[@]})) && $sudo systemctl disable "${units[@]}" >/dev/null 2>&1
        fi
    fi
    [[ -x /usr/sbin/sshd && -x /usr/bin/ganesha.nfsd ]] || kx_die "servers: sshd or ganesha.nfsd missing after the install"
    kx_need_cmds ssh sftp ssh-keygen python3
}

# kx_srv_free_port — a TCP port nothing listens on, on 127.0.0.1. (Free
# when asked: the caller binds it right after; a clash makes that bind fail
# loudly, never a silent share.)
kx_srv_free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# _kx_srv_wait_port PORT PID WHAT LOG — until 127.0.0.1:PORT accepts (30 s),
# failing early when PID is gone.
_kx_srv_wait_port() {
    local port=$1 pid=$2 what=$3 log=$4 i
    for ((i = 0; i < 300; i++)); do
        if python3 -c 'import socket, sys; socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=1).close()' "$port" 2>/dev/null; then
            return 0
        fi
        kill -0 "$pid" 2>/dev/null || kx_die "$what exited before listening on 127.0.0.1:$port: $(tail -5 "$log" 2>/dev/null)"
        sleep 0.1
    done
    kx_die "$what did not listen on 127.0.0.1:$port within 30 s (log: $log)"
}

# _kx_srv_listens_only_on_loopback PID WHAT — every listening socket of PID
# is bound to 127.0.0.1 (ss -ltnup; ganesha's IPv6 socket bound to the
# v4-mapped [::ffff:127.0.0.1] is the same address); anything else is fatal.
_kx_srv_listens_only_on_loopback() {
    local pid=$1 what=$2 bad
    command -v ss >/dev/null || { kx_log "servers: no ss, cannot check where $what listens"; return 0; }
    bad=$(ss -Hltnup 2>/dev/null | grep -E "pid=$pid," | awk '{print $5}' | grep -vE '^(127\.0\.0\.1|\[::ffff:127\.0\.0\.1\]):' || true)
    [[ -z $bad ]] || { kx_srv_stop_all; kx_die "$what (pid $pid) listens beyond 127.0.0.1: $bad"; }
}

_kx_srv_started() { KX_SRV_PIDS+=("$1"); KX_SRV_WHAT[$1]=$2; }

# kx_srv_sshd DIR
kx_srv_sshd() {
    local dir=$1 d
    [[ $(id -u) -eq 0 ]] || kx_die "kx_srv_sshd: needs root (sshd's privilege separation and the chroot)"
    mkdir -p "$dir" || kx_die "cannot create $dir"
    chmod 755 "$dir" || kx_die "cannot chmod $dir"
    dir=$(realpath "$dir")
    # ChrootDirectory: every component root-owned and writable by root only
    # (sshd refuses the login otherwise; /tmp, 1777, would not do).
    d=$dir
    while [[ -n $d ]]; do
        [[ $(stat -c %u "$d/") == 0 && $(( 8#$(stat -c %a "$d/") & 8#022 )) == 0 ]] ||
            kx_die "kx_srv_sshd: $d must be root's and not group/other-writable (sshd's chroot); choose another DIR"
        [[ $d == / ]] && break
        d=$(dirname "$d")
    done
    rm -f "$dir"/{host_ed25519,other_host_ed25519,client_ed25519}{,.pub}
    local k
    for k in host other_host client; do
        ssh-keygen -q -t ed25519 -N '' -C "kexdump-test-$k" -f "$dir/${k}_ed25519" || kx_die "ssh-keygen ($k) failed"
    done
    install -m 600 "$dir/client_ed25519.pub" "$dir/authorized_keys"
    install -d -m 700 "$dir/dumps"
    local port
    port=$(kx_srv_free_port) || kx_die "no free port"
    cat >"$dir/sshd_config" <<EOF
# kexdump tests/vm/servers.sh: the dump server (SFTP only) of one test
ListenAddress 127.0.0.1:$port
AddressFamily inet
HostKey $dir/host_ed25519
PidFile $dir/sshd.pid
AuthorizedKeysFile $dir/authorized_keys
PermitRootLogin prohibit-password
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
StrictModes no
LogLevel VERBOSE
AllowUsers root
X11Forwarding no
AllowTcpForwarding no
AllowAgentForwarding no
PermitTunnel no
PermitUserEnvironment no
LoginGraceTime 60
Subsystem sftp internal-sftp
# SFTP only, inside DIR: a wrong path in the client cannot write elsewhere
# on the host.
ChrootDirectory $dir
ForceCommand internal-sftp
EOF
    /usr/sbin/sshd -t -f "$dir/sshd_config" 2>"$dir/sshd.log" || kx_die "sshd -t: $(cat "$dir/sshd.log")"
    /usr/sbin/sshd -D -e -f "$dir/sshd_config" >>"$dir/sshd.log" 2>&1 </dev/null &
    local pid=$!
    _kx_srv_started "$pid" "sshd $dir"
    _kx_srv_wait_port "$port" "$pid" sshd "$dir/sshd.log"
    _kx_srv_listens_only_on_loopback "$pid" sshd
    KX_SSHD_PORT=$port
    KX_SSHD_USER=root
    KX_SSHD_HOSTKEY_PUB=$(cut -d' ' -f1,2 "$dir/host_ed25519.pub")
    KX_SSHD_OTHER_HOSTKEY_PUB=$(cut -d' ' -f1,2 "$dir/other_host_ed25519.pub")
    KX_SSH_CLIENT_KEY=$dir/client_ed25519
    KX_SSHD_DUMPS=$dir/dumps
    KX_SSHD_DUMP_PATH=/dumps
    KX_SSHD_DIR=$dir
    [[ $KX_SSHD_HOSTKEY_PUB == ssh-ed25519\ * ]] || kx_die "cannot read $dir/host_ed25519.pub"
    export KX_SSHD_PORT KX_SSHD_USER KX_SSHD_HOSTKEY_PUB KX_SSHD_OTHER_HOSTKEY_PUB KX_SSH_CLIENT_KEY \
        KX_SSHD_DUMPS KX_SSHD_DUMP_PATH KX_SSHD_DIR
    kx_log "sshd: 127.0.0.1:$port (pid $pid), SFTP chrooted to $dir, dumps in $dir/dumps; log $dir/sshd.log"
}

# kx_srv_sshd_check [DIR] — prove the server of kx_srv_sshd works as the
# capture will use it, with the system client: prints what it did; returns
# non-zero on the first failure.
kx_srv_sshd_check() {
    local dir=${1:-$KX_SSHD_DIR} kh out
    kh=$dir/check_known_hosts
    printf '[127.0.0.1]:%s %s\n' "$KX_SSHD_PORT" "$KX_SSHD_HOSTKEY_PUB" >"$kh"
    local -a opts=(-o BatchMode=yes -o StrictHostKeyChecking=yes -o "UserKnownHostsFile=$kh"
        -o GlobalKnownHostsFile=/dev/null -o IdentitiesOnly=yes -o IdentityAgent=none -i "$KX_SSH_CLIENT_KEY"
        -o ConnectTimeout=10 -P "$KX_SSHD_PORT")
    head -c 1048576 /dev/urandom >"$dir/check.bin"
    rm -rf "$dir/dumps/check"
    out=$(sftp "${opts[@]}" -b - "$KX_SSHD_USER@127.0.0.1" 2>&1 <<EOF
mkdir $KX_SSHD_DUMP_PATH/check
put $dir/check.bin $KX_SSHD_DUMP_PATH/check/vmcore.flat.incomplete
rename $KX_SSHD_DUMP_PATH/check/vmcore.flat.incomplete $KX_SSHD_DUMP_PATH/check/vmcore.flat
ls -l $KX_SSHD_DUMP_PATH/check
EOF
    ) || { echo "sftp with the right host key failed: $out"; return 1; }
    echo "$out"
    cmp "$dir/check.bin" "$dir/dumps/check/vmcore.flat" || { echo "the file on the server differs"; return 1; }
    [[ ! -e $dir/dumps/check/vmcore.flat.incomplete ]] || { echo "the rename left vmcore.flat.incomplete"; return 1; }
    echo "host: $dir/dumps/check/vmcore.flat is the 1 MiB put, renamed"
    # The wrong host key in known_hosts: the client must refuse the server.
    printf '[127.0.0.1]:%s %s\n' "$KX_SSHD_PORT" "$KX_SSHD_OTHER_HOSTKEY_PUB" >"$kh.wrong"
    opts=("${opts[@]/#UserKnownHostsFile=*/UserKnownHostsFile=$kh.wrong}")
    if out=$(sftp "${opts[@]}" -b - "$KX_SSHD_USER@127.0.0.1" <<<"ls $KX_SSHD_DUMP_PATH" 2>&1); then
        echo "sftp with a wrong known host key was let in: $out"; return 1
    fi
    grep -E 'REMOTE HOST IDENTIFICATION HAS CHANGED|Host key verification failed' <<<"$out" | head -2
    echo "wrong known host key: refused, as it must be"
    rm -rf "$dir/dumps/check" "$dir/check.bin" "$kh" "$kh.wrong"
}

# kx_srv_nfs DIR
kx_srv_nfs() {
    local dir=$1 port
    [[ $(id -u) -eq 0 ]] || kx_die "kx_srv_nfs: ganesha's VFS backend needs root (open_by_handle_at)"
    mkdir -p "$dir/export" "$dir/recovery" || kx_die "cannot create $dir"
    dir=$(realpath "$dir")
    chmod 755 "$dir/export"
    port=$(kx_srv_free_port) || kx_die "no free port"
    KX_NFS_EXPORT=${KX_NFS_EXPORT:-/kxdump}
    cat >"$dir/ganesha.conf" <<EOF
# kexdump tests/vm/servers.sh: the NFSv4 dump server of one test
NFS_CORE_PARAM {
    Bind_addr = 127.0.0.1;
    NFS_Port = $port;
    Protocols = 4;
    # NFSv4 only: no MOUNT, NLM, RQUOTA or NFSACL sockets and no UDP. The v4
    # registration with rpcbind is optional in ganesha (v3 is not): without
    # rpcbind it logs that it could not register and serves.
    Enable_NLM = false;
    Enable_RQUOTA = false;
    Enable_UDP = false;
    Enable_NFSACL = false;
}
NFSV4 {
    # No grace period: a fresh server of a test serves at once.
    Graceless = true;
    RecoveryBackend = fs;
    RecoveryRoot = $dir/recovery;
    Lease_Lifetime = 10;
}
NFS_KRB5 {
    Active_krb5 = false;
}
EXPORT {
    Export_Id = 1;
    Path = $dir/export;
    Pseudo = $KX_NFS_EXPORT;
    Access_Type = RW;
    Squash = No_Root_Squash;
    SecType = sys;
    Protocols = 4;
    Transports = TCP;
    # QEMU's slirp connects from an unprivileged port.
    PrivilegedPort = false;
    FSAL {
        Name = VFS;
    }
}
LOG {
    Default_Log_Level = EVENT;
}
EOF
    : >"$dir/ganesha.log"
    /usr/bin/ganesha.nfsd -F -f "$dir/ganesha.conf" -L "$dir/ganesha.log" -p "$dir/ganesha.pid" \
        >>"$dir/ganesha.out" 2>&1 </dev/null &
    local pid=$!
    _kx_srv_started "$pid" "ganesha $dir"
    _kx_srv_wait_port "$port" "$pid" ganesha.nfsd "$dir/ganesha.log"
    _kx_srv_listens_only_on_loopback "$pid" ganesha.nfsd
    kx_srv_nfs_ping "$port" >/dev/null || kx_die "ganesha on 127.0.0.1:$port does not answer NFSv4 NULL: $(kx_srv_nfs_ping "$port" 2>&1)"
    KX_NFS_PORT=$port
    KX_NFS_DIR=$dir/export
    export KX_NFS_PORT KX_NFS_EXPORT KX_NFS_DIR
    kx_log "nfs: ganesha on 127.0.0.1:$port (pid $pid), $KX_NFS_EXPORT = $dir/export; log $dir/ganesha.log"
}

# kx_srv_nfs_ping PORT — one ONC RPC call over TCP to 127.0.0.1:PORT: the
# NULL procedure of NFS (100003) version 4; prints the reply's verdict and
# succeeds when the call was accepted. (A mount from the host would change
# the host's mounts; the guest's mount is tests/vm/net-smoke.sh.)
kx_srv_nfs_ping() {
    python3 - "$1" <<'PY'
import socket, struct, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=10)
xid = 0x6b786470
call = struct.pack(">IIIIIIIIII", xid, 0, 2, 100003, 4, 0, 0, 0, 0, 0)
s.sendall(struct.pack(">I", 0x80000000 | len(call)) + call)
def exact(n):
    b = b""
    while len(b) < n:
        c = s.recv(n - len(b))
        if not c:
            sys.exit("connection closed after %d bytes" % len(b))
        b += c
    return b
mark, = struct.unpack(">I", exact(4))
rep = exact(mark & 0x7FFFFFFF)
rxid, mtype, rstat = struct.unpack_from(">III", rep)
if rxid != xid or mtype != 1:
    sys.exit("not a reply to our call: %r" % rep[:12])
if rstat != 0:
    sys.exit("MSG_DENIED (reply_stat %d)" % rstat)
vlen, = struct.unpack_from(">I", rep, 16)
astat, = struct.unpack_from(">I", rep, 20 + ((vlen + 3) & ~3))
names = {0: "SUCCESS", 1: "PROG_UNAVAIL", 2: "PROG_MISMATCH", 3: "PROC_UNAVAIL", 4: "GARBAGE_ARGS", 5: "SYSTEM_ERR"}
print("NFS v4 NULL call: accepted, %s" % names.get(astat, astat))
sys.exit(0 if astat == 0 else 1)
PY
}

# kx_srv_proxy LISTEN_PORT TARGET_PORT [--rate B/S] [--cut-after BYTES]
#              [--cut-mode reset|blackhole] [--log FILE]
kx_srv_proxy() {
    local listen=$1 target=$2 log="" pf
    shift 2 || kx_die "kx_srv_proxy LISTEN_PORT TARGET_PORT [options]"
    local -a opts=()
    while (($#)); do
        case $1 in
        --rate | --cut-after | --cut-mode) opts+=("$1" "$2"); shift 2 ;;
        --log) log=$2; shift 2 ;;
        *) kx_die "kx_srv_proxy: unknown option $1" ;;
        esac
    done
    [[ $listen =~ ^[0-9]+$ && $target =~ ^[0-9]+$ ]] || kx_die "kx_srv_proxy: ports are numbers ($listen, $target)"
    local logdir=${KX_SRV_LOGDIR:-$KX_WORK}
    mkdir -p "$logdir"
    pf=$(mktemp "$logdir/proxy-port.XXXXXX")
    rm -f "$pf"
    [[ -n $log ]] || log=$logdir/proxy-$listen-$target.log
    # shellcheck disable=SC2094 # the proxy appends to its log, stderr too
    python3 "$KX_SRV_TOOLS/tcp_proxy.py" --listen "$listen" --target "$target" "${opts[@]}" \
        --log "$log" --port-file "$pf" </dev/null >/dev/null 2>>"$log" &
    local pid=$! i
    _kx_srv_started "$pid" "proxy $listen->$target"
    for ((i = 0; i < 100; i++)); do
        [[ -s $pf ]] && break
        kill -0 "$pid" 2>/dev/null || kx_die "the proxy exited: $(tail -3 "$log")"
        sleep 0.1
    done
    [[ -s $pf ]] || kx_die "the proxy did not start (log: $log)"
    KX_PROXY_PORT=$(cat "$pf")
    rm -f "$pf"
    KX_PROXY_LOG=$log
    export KX_PROXY_PORT KX_PROXY_LOG
    kx_log "proxy: 127.0.0.1:$KX_PROXY_PORT -> 127.0.0.1:$target ${opts[*]} (pid $pid); log $log"
}

# kx_srv_guestfwd GUEST_IP:GUEST_PORT HOST_PORT [LOG] — prints one guestfwd
# rule (for kx_qemu_run --net): a guest connection to GUEST_IP:GUEST_PORT
# runs tcp_proxy.py --stdio, connected to 127.0.0.1:HOST_PORT.
kx_srv_guestfwd() {
    local g=$1 hp=$2 log=${3:-}
    [[ $g =~ ^[0-9.]+:[0-9]+$ && $hp =~ ^[0-9]+$ ]] || kx_die "kx_srv_guestfwd IP:PORT HOST_PORT"
    printf 'tcp:%s-cmd:python3 %s/tcp_proxy.py --stdio --target %s%s' "$g" "$KX_SRV_TOOLS" "$hp" "${log:+ --log $log}"
}

# kx_srv_stop_all — SIGTERM what kx_srv_* started (by pid), SIGKILL after
# 5 s. Safe to call twice.
kx_srv_stop_all() {
    local pid i
    for pid in "${KX_SRV_PIDS[@]}"; do
        kill -TERM "$pid" 2>/dev/null || true
    done
    for pid in "${KX_SRV_PIDS[@]}"; do
        for ((i = 0; i < 50; i++)); do
            kill -0 "$pid" 2>/dev/null || break
            sleep 0.1
        done
        if kill -0 "$pid" 2>/dev/null; then
            kx_log "servers: ${KX_SRV_WHAT[$pid]:-$pid} ignored SIGTERM; SIGKILL"
            kill -KILL "$pid" 2>/dev/null || true
        fi
        wait "$pid" 2>/dev/null || true
    done
    KX_SRV_PIDS=()
}
