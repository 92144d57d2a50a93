#!/usr/bin/env bash
# tests/net/netns-test.sh — PID 1's network bring-up (capture/src/bin/
# kexdump-capture/pid1/net/) against a real kernel and a real DHCP server,
# as root, touching no interface of the machine:
#
#   namespace kxnet-<pid>-srv: kxs0 10.77.0.1/24, dnsmasq (DHCP only)
#          │ veth
#   namespace kxnet-<pid>:     kxc0, down and without address, where
#                              `kexdump-capture --net-selftest` runs
#
# Both ends of the veth are created inside their namespaces (the server
# side too, rather than in the root namespace, so that no firewall, DHCP
# server or route of the machine is involved or touched). Checks: DHCP
# (address, default route via dnsmasq's router option, MTU from option 26,
# lo up, ping; again with rp_filter=1), a static address with a gateway, a
# /32 with an on-link gateway, and the errors for a missing MAC and a
# silent DHCP server.
#
#   tests/net/netns-test.sh [KEXDUMP_CAPTURE]   (default: scripts/build-capture.sh's output path)
#
# Needs root, iproute2, dnsmasq, ping. Exits non-zero with the reason on the
# first failed check; the namespaces and temp files go in every case.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
cap=${1:-${CARGO_TARGET_DIR:-$PWD/target}/x86_64-unknown-linux-gnu/release/kexdump-capture}
fail() {
    echo "netns-test: FAIL: $*" >&2
    if [[ -s ${tmp:-}/dnsmasq.log ]]; then
        echo "netns-test: dnsmasq's log, last lines:" >&2
        tail -n 20 "$tmp/dnsmasq.log" >&2
    fi
    exit 1
}
[[ $EUID -eq 0 ]] || fail "must run as root (network namespaces)"
[[ -x $cap ]] || fail "$cap is not an executable (build it with scripts/build-capture.sh)"
for tool in ip dnsmasq ping; do
    command -v "$tool" >/dev/null || fail "$tool is not installed"
done

ns=kxnet-$$
srv=kxnet-$$-srv
tmp=$(mktemp -d /tmp/kxnet.XXXXXX)
dnsmasq_pid=
cleanup() {
    if [[ -n $dnsmasq_pid ]]; then
        kill "$dnsmasq_pid" 2>/dev/null || true
        wait "$dnsmasq_pid" 2>/dev/null || true
    fi
    ip netns del "$ns" 2>/dev/null || true
    ip netns del "$srv" 2>/dev/null || true
    rm -rf "$tmp"
}
trap cleanup EXIT

ip netns add "$ns"
ip netns add "$srv"
ip link add kxc0 netns "$ns" type veth peer name kxs0 netns "$srv"
ip -n "$srv" link set lo up
ip -n "$srv" addr add 10.77.0.1/24 dev kxs0
ip -n "$srv" link set kxs0 up
mac=$(ip netns exec "$ns" cat /sys/class/net/kxc0/address)
echo "netns-test: namespaces $ns (kxc0 $mac) and $srv (kxs0 10.77.0.1/24)"

ip netns exec "$srv" dnsmasq --no-daemon --conf-file=/dev/null --port=0 --bind-interfaces --interface=kxs0 \
    --listen-address=10.77.0.1 --dhcp-range=10.77.0.100,10.77.0.150,255.255.255.0,1h \
    --dhcp-option=option:mtu,1400 --dhcp-leasefile="$tmp/leases" --pid-file="$tmp/dnsmasq.pid" \
    --user=root --log-dhcp --log-facility="$tmp/dnsmasq.log" 2>"$tmp/dnsmasq.stderr" &
dnsmasq_pid=$!
for _ in $(seq 50); do
    [[ -s $tmp/dnsmasq.pid ]] && break
    kill -0 "$dnsmasq_pid" 2>/dev/null || fail "dnsmasq exited: $(cat "$tmp/dnsmasq.log" 2>/dev/null)"
    sleep 0.1
done

# Run the bring-up in the client namespace; its stdout is the result line.
selftest() {
    echo "netns-test: \$ kexdump-capture --net-selftest $*"
    if ! ip netns exec "$ns" "$cap" --net-selftest "$@" >"$tmp/out" 2>"$tmp/err"; then
        sed 's/^/    /' "$tmp/err"
        fail "--net-selftest $* failed"
    fi
    sed 's/^/    /' "$tmp/err" "$tmp/out"
}
expect() { # DESCRIPTION TEXT PATTERN
    grep -qE -- "$3" <<<"$2" || fail "$1: expected /$3/ in: $2"
    echo "netns-test: ok: $1"
}
reset_client() {
    ip -n "$ns" route flush table main
    ip -n "$ns" addr flush dev kxc0
    ip -n "$ns" link set kxc0 down mtu 1500
    ip -n "$ns" link set lo down
}

# 1. DHCP.
selftest "$mac" dhcp
result=$(cat "$tmp/out")
expect "DHCP result line" "$result" '^ifname=kxc0 addr=10\.77\.0\.1[0-9]{2}/24 gateway=10\.77\.0\.1 dhcp=true$'
leased=$(sed -E 's/.* addr=([0-9.]+)\/.*/\1/' <<<"$result")
expect "DHCP address on kxc0" "$(ip -n "$ns" -4 -o addr show dev kxc0)" "inet $leased/24 brd 10\.77\.0\.255 "
expect "DHCP default route" "$(ip -n "$ns" -d route show default)" '^unicast default via 10\.77\.0\.1 dev kxc0 proto boot scope global'
expect "MTU 1400 from DHCP option 26" "$(ip -n "$ns" -o link show kxc0)" 'mtu 1400 '
expect "lo up" "$(ip -n "$ns" -o link show lo)" '<LOOPBACK,UP,LOWER_UP>'
expect "dnsmasq's lease for $mac" "$(cat "$tmp/leases")" "$mac $leased "
# dnsmasq pinged the address before offering it: forget that failed ARP.
ip -n "$srv" neigh flush dev kxs0
expect "ping from the server to $leased" "$(ip netns exec "$srv" ping -c 1 -W 2 "$leased")" ' 0% packet loss'

# 1b. DHCP with the reverse-path filter on (a UDP client gets no replies
# then): the bring-up turns it off for the exchange and puts it back.
reset_client
ip netns exec "$ns" sysctl -q -w net.ipv4.conf.all.rp_filter=1 net.ipv4.conf.kxc0.rp_filter=1
selftest "$mac" dhcp
expect "DHCP with rp_filter=1" "$(cat "$tmp/out")" "^ifname=kxc0 addr=$leased/24 gateway=10\.77\.0\.1 dhcp=true\$"
expect "rp_filter put back" "$(ip netns exec "$ns" sysctl -n net.ipv4.conf.all.rp_filter net.ipv4.conf.kxc0.rp_filter | tr '\n' ' ')" '^1 1 $'
ip netns exec "$ns" sysctl -q -w net.ipv4.conf.all.rp_filter=0 net.ipv4.conf.kxc0.rp_filter=0

# 2. Static address and gateway.
reset_client
selftest "$mac" 10.77.0.50/24 10.77.0.1
expect "static result line" "$(cat "$tmp/out")" '^ifname=kxc0 addr=10\.77\.0\.50/24 gateway=10\.77\.0\.1 dhcp=false$'
expect "static address on kxc0" "$(ip -n "$ns" -4 -o addr show dev kxc0)" 'inet 10\.77\.0\.50/24 brd 10\.77\.0\.255 '
expect "static default route" "$(ip -n "$ns" -d route show default)" '^unicast default via 10\.77\.0\.1 dev kxc0 proto boot scope global'
expect "MTU left at 1500" "$(ip -n "$ns" -o link show kxc0)" 'mtu 1500 '
expect "ping from the client to the gateway" "$(ip netns exec "$ns" ping -c 1 -W 2 10.77.0.1)" ' 0% packet loss'

# 3. A /32 whose gateway is outside it: the route needs RTNH_F_ONLINK.
reset_client
selftest "$mac" 10.77.0.60/32 10.77.0.1
expect "/32 address on kxc0" "$(ip -n "$ns" -4 -o addr show dev kxc0)" 'inet 10\.77\.0\.60/32 '
expect "on-link default route" "$(ip -n "$ns" -d route show default)" '^unicast default via 10\.77\.0\.1 dev kxc0 proto boot scope global onlink'
expect "ping through the on-link route" "$(ip netns exec "$ns" ping -c 1 -W 2 10.77.0.1)" ' 0% packet loss'

# 4. Errors name what was seen.
reset_client
echo "netns-test: \$ kexdump-capture --net-selftest --timeout 1 02:00:00:00:00:99 dhcp"
if ip netns exec "$ns" "$cap" --net-selftest --timeout 1 02:00:00:00:00:99 dhcp >"$tmp/out" 2>"$tmp/err"; then
    fail "a missing MAC succeeded: $(cat "$tmp/out")"
fi
sed 's/^/    /' "$tmp/err"
expect "missing MAC error" "$(cat "$tmp/err")" "no interface with MAC 02:00:00:00:00:99 after 1 s; interfaces: kxc0 \($mac\), lo"

kill "$dnsmasq_pid"
wait "$dnsmasq_pid" 2>/dev/null || true
dnsmasq_pid=
reset_client
echo "netns-test: (dnsmasq stopped) \$ kexdump-capture --net-selftest --timeout 3 $mac dhcp"
if ip netns exec "$ns" "$cap" --net-selftest --timeout 3 "$mac" dhcp >"$tmp/out" 2>"$tmp/err"; then
    fail "DHCP without a server succeeded: $(cat "$tmp/out")"
fi
sed 's/^/    /' "$tmp/err"
expect "silent DHCP server error" "$(cat "$tmp/err")" "DHCP on kxc0: no DHCPOFFER after 3\.0 s \(2 DISCOVERs sent, no replies\)"

echo "netns-test: all checks passed"
