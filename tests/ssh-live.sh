#!/usr/bin/env bash
# tests/ssh-live.sh — kexdump's ssh client (capture/src/remote/) against a
# real OpenSSH sshd: started here on 127.0.0.1 (a free port) with its own
# host key, client keys and directory, stopped on exit. Runs the ignored
# tests of capture/tests/ssh_live.rs, then the CLI's non-interactive ssh
# path against the same server: `kexdump propagate --yes` (the key is
# already authorized, so ssh-copy-id is not needed), `kexdump arm --dry-run`
# and `kexdump status` with an ssh target. Needs root (sshd) and
# openssh-server, which it installs.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
[[ $(id -u) == 0 ]] || { echo "ssh-live: needs root (sshd)" >&2; exit 1; }
# openssh-server installed without starting (or enabling) its service.
# shellcheck source=vm/servers.sh
source tests/vm/servers.sh
kx_srv_need_pkgs
work=$(mktemp -d /tmp/kexdump-ssh-live.XXXXXX)
pid=""
cleanup() { [[ -n $pid ]] && kill "$pid" 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT
ssh-keygen -q -t ed25519 -N '' -C kexdump-test-host -f "$work/hostkey"
ssh-keygen -q -t ed25519 -N '' -C kexdump-test -f "$work/client"
ssh-keygen -q -t ed25519 -N '' -C kexdump-other -f "$work/other"
cp "$work/client.pub" "$work/authorized_keys"
install -d -m 700 "$work/dumps" /run/sshd
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
cat >"$work/sshd_config" <<CONF
ListenAddress 127.0.0.1
Port $port
HostKey $work/hostkey
PidFile $work/sshd.pid
AuthorizedKeysFile $work/authorized_keys
PermitRootLogin prohibit-password
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
StrictModes no
Subsystem sftp internal-sftp
LogLevel VERBOSE
CONF
/usr/sbin/sshd -D -e -f "$work/sshd_config" 2>"$work/sshd.log" &
pid=$!
for _ in $(seq 50); do
    (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break
    kill -0 "$pid" 2>/dev/null || { cat "$work/sshd.log" >&2; echo "ssh-live: sshd exited" >&2; exit 1; }
    sleep 0.1
done
export KX_SSH_ADDR=127.0.0.1:$port KX_SSH_USER=root KX_SSH_KEY=$work/client KX_SSH_OTHER_KEY=$work/other
KX_SSH_HOSTKEY=$(cut -d' ' -f1,2 "$work/hostkey.pub")
export KX_SSH_HOSTKEY KX_SSH_DIR=$work/dumps KX_SSH_LOCAL_DIR=$work/dumps
rc=0
cargo test --locked -q -p kexdump-engine --test ssh_live -- --ignored --test-threads 1 || rc=$?
if ((rc == 0)); then
    # The CLI: a configuration naming this server, kexdump's key and
    # known_hosts in the work directory (propagate records the host key).
    cat >"$work/kexdump.toml" <<CONF
[target]
target = "ssh://root@127.0.0.1:$port$work/dumps"
[ssh]
identity = "$work/client"
known_hosts = "$work/known_hosts"
CONF
    cargo build --locked -q -p kexdump
    kexdump=${CARGO_TARGET_DIR:-target}/debug/kexdump
    out=$("$kexdump" propagate --config "$work/kexdump.toml" --yes --json) || rc=$?
    echo "$out"
    grep -q '"key_status": "already authorized"' <<<"$out" || { echo "ssh-live: propagate did not log in" >&2; rc=1; }
    grep -qF "[127.0.0.1]:$port $KX_SSH_HOSTKEY" "$work/known_hosts" || { echo "ssh-live: no host key recorded" >&2; rc=1; }
    # Again: the recorded key matches, nothing to confirm.
    out=$("$kexdump" propagate --config "$work/kexdump.toml" </dev/null) || rc=$?
    echo "$out"
    grep -q 'unchanged in' <<<"$out" || { echo "ssh-live: the second propagate changed the host key" >&2; rc=1; }
    # The dry run: 127.0.0.1 is this machine (the network check fails, as
    # it must), but the host key and the login with our client pass.
    out=$("$kexdump" arm --dry-run --config "$work/kexdump.toml" || true)
    echo "$out"
    grep -q '^✓ known host: ' <<<"$out" || { echo "ssh-live: no known host check" >&2; rc=1; }
    grep -q '^✓ ssh login: root@127.0.0.1' <<<"$out" || { echo "ssh-live: the dry run did not log in" >&2; rc=1; }
    grep -q '^✗ network: 127.0.0.1 is this machine itself' <<<"$out" || { echo "ssh-live: loopback not refused" >&2; rc=1; }
    out=$("$kexdump" status --config "$work/kexdump.toml" || true)
    echo "$out"
    grep -q "target: .*(remote): .* free on the server" <<<"$out" || { echo "ssh-live: status shows no free space" >&2; rc=1; }
fi
if ((rc)); then
    echo "--- sshd.log" >&2
    tail -n 30 "$work/sshd.log" >&2
fi
exit "$rc"
