#!/bin/sh
# /usr/local/sbin/kexdump-vmtest in the systemd test's Debian root: run by
# kexdump-vmtest.service after kexdump.service at every boot. Lines starting
# "VMTEST:" are parsed by tests/vm/systemd-test.sh (keep them stable).
#   boot 1: report the unit's state and `kexdump status`, then
#           `kexdump test --yes` (the crash; the capture kernel saves the
#           dump onto this root file system and the VM stops)
#   boot 2: report `kexdump status` (and its JSON) and `kexdump list`, run
#           the /etc/kernel/postinst.d hook and see it re-arm, power off
#   boot 3: (booted without crashkernel=) report the unit's state and its
#           journal, power off
#   boot 4: (the host made /etc/kexdump.toml name an ssh server and enabled
#           systemd-networkd with DHCP) report networkd, network-online.target
#           and when kexdump.service started, the addresses, the unit's
#           journal; `kexdump propagate --yes` (the host key already
#           recorded, the key already authorized); then `kexdump test --yes`:
#           the capture kernel sends the dump over ssh and the VM stops
PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
state=/var/lib/kexdump-vmtest
mkdir -p $state
boot=$(($(cat $state/boots 2>/dev/null || echo 0) + 1))
echo $boot >$state/boots
sync
echo "VMTEST: boot $boot"
echo "VMTEST: enabled=$(systemctl is-enabled kexdump.service) active=$(systemctl is-active kexdump.service)"
kexdump status
echo "VMTEST: status rc=$?"
if [ "$boot" = 1 ]; then
    systemctl status --no-pager kexdump.service | sed 's/^/unit: /'
    echo "VMTEST: starting the self-test"
    kexdump test --yes --delay 1
    echo "VMTEST: kexdump test returned rc=$?"
elif [ "$boot" = 3 ]; then
    echo "VMTEST: unit=$(systemctl is-active kexdump.service)"
    journalctl -u kexdump.service --no-pager -o cat | sed 's/^/VMTEST-JOURNAL: /'
elif [ "$boot" = 4 ]; then
    echo "VMTEST: networkd=$(systemctl is-active systemd-networkd.service) online=$(systemctl is-active network-online.target) unit=$(systemctl is-active kexdump.service)"
    echo "VMTEST: kexdump.service wants: $(systemctl show -p Wants --value kexdump.service)"
    echo "VMTEST: kexdump.service after: $(systemctl show -p After --value kexdump.service)"
    # Monotonic microseconds: the unit must have started once the network was online.
    echo "VMTEST: network-online at $(systemctl show -p ActiveEnterTimestampMonotonic --value network-online.target)," \
        "kexdump arm started at $(systemctl show -p ExecMainStartTimestampMonotonic --value kexdump.service)"
    ip -4 -o addr show | sed 's/^/VMTEST-NET: /'
    ip route get 10.0.2.100 | sed 's/^/VMTEST-NET: /'
    # This boot's only (the journal is persistent).
    journalctl -b -u kexdump.service --no-pager -o cat | sed 's/^/VMTEST-JOURNAL: /'
    kexdump propagate --yes >$state/propagate.txt 2>&1
    echo "VMTEST: propagate rc=$?"
    sed 's/^/VMTEST-PROPAGATE: /' $state/propagate.txt
    kexdump status >/dev/null
    echo "VMTEST: status after propagate rc=$?"
    echo "VMTEST: starting the self-test"
    kexdump test --yes --delay 1
    echo "VMTEST: kexdump test returned rc=$?"
else
    kexdump status --json >$state/status.json
    echo "VMTEST: status-json rc=$?"
    sed 's/^/VMTEST-JSON: /' $state/status.json
    kexdump list
    echo "VMTEST: list rc=$?"
    # What a kernel package's postinst runs: the service reloads (rearm).
    before=$(stat -c %Y /var/lib/kexdump/armed.json)
    sleep 1
    /etc/kernel/postinst.d/kexdump "$(uname -r)"
    i=0 after=$before
    while [ $i -lt 180 ] && [ "$after" = "$before" ]; do
        sleep 1; i=$((i + 1))
        after=$(stat -c %Y /var/lib/kexdump/armed.json)
    done
    [ "$after" != "$before" ] && echo "VMTEST: postinst hook re-armed: yes" || echo "VMTEST: postinst hook re-armed: no"
    while systemctl is-active --quiet kexdump.service && [ "$(systemctl show -p ActiveState --value kexdump.service)" = reloading ]; do sleep 1; done
    kexdump status >/dev/null
    echo "VMTEST: status after the hook rc=$?"
fi
echo "VMTEST: done"
sync
systemctl poweroff
