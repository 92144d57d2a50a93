#!/usr/bin/env bash
# scripts/matrix-deps.sh — the kernels and oracles of the kernel matrix, from
# Debian's archive by package name, through a private apt configuration (the
# system's own apt sources are never touched), unpacked into the cache:
#
#   label  kernel (suite)                         crash that reads it
#   5.10   5.10.0-46-amd64   (bullseye-security)  8.0.6 (trixie)
#   6.1    6.1.0-56-amd64    (bookworm, deps.sh)  8.0.6 (trixie)
#   6.12   6.12.118+deb13-amd64 (trixie)          8.0.6 (trixie)
#   7      7.3.4+deb13-amd64 (trixie-backports)   9.0.2 (sid)
#
# Each kernel: its image (7.x: linux-image-<ver> is a metapackage over
# linux-binary-<ver>, linux-modules-<ver> and linux-base-<ver>) into
# $CACHE/linux-<ver>/ (whole when it has modules.builtin), its
# debug vmlinux into $CACHE/vmlinux-<ver>, and its System.map into
# $CACHE/System.map-<ver> (6.12's image ships a placeholder; the dbg package
# has the real one). crash 8.0.6 and 9.0.2 are unpacked with sid's libraries
# and run through their own loader (a wrapper script, $CACHE/crash-<ver>/crash).
# Writes $CACHE/matrix/kernels: "label kernel-release crash-binary" per line.
# Idempotent: with everything cached it touches no network.
#
#   KX_MATRIX="5.10 7"                              only these labels (the
#                                                   kernels file lists them only)
#   KX_MATRIX_KERNELS="5.10:5.10.0-46-amd64 ..."   other releases
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
CACHE=${KEXDUMP_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/kexdump}
MX=$CACHE/matrix
APTD=$MX/apt

kernels=${KX_MATRIX_KERNELS:-"5.10:5.10.0-46-amd64 6.1:6.1.0-56-amd64 6.12:6.12.118+deb13-amd64 7:7.3.4+deb13-amd64"}
crash_new=9.0.2+~16.3   # sid: the only crash that reads 7.x
crash_old=8.0.6         # trixie: 5.10 to 6.12
crash_libs=(libc6 libc-gconv-modules-extra libgcc-s1 libstdc++6 libzstd1 zlib1g liblzo2-2 libsnappy1v5
    libncursesw6 libtinfo6 libgmp10 libmpfr6 libjansson4 libbinutils libctf0 libctf-nobfd0 libsframe3 libgprofng0)

say() { echo "matrix-deps: $*" >&2; }
die() { say "ERROR: $*"; exit 1; }

# The 6.1 kernel and the oracle come from deps.sh.
KEXDUMP_KVER=6.1.0-56-amd64 bash "$ROOT/scripts/deps.sh" || die "scripts/deps.sh failed"

apt_ready=0
# apt_setup — the private apt configuration, updated at most once a day.
apt_setup() {
    ((apt_ready)) && return 0
    mkdir -p "$APTD"/{lists/partial,cache/archives/partial,sources.list.d,preferences.d,debs}
    touch "$APTD/preferences"
    local key=/usr/share/keyrings/debian-archive-keyring.gpg
    [[ -f $key ]] || die "no $key (apt-get install debian-archive-keyring)"
    cat >"$APTD/apt.conf" <<EOF
Dir::Etc::SourceList "$APTD/sources.list";
Dir::Etc::SourceParts "$APTD/sources.list.d";
Dir::Etc::Preferences "$APTD/preferences";
Dir::Etc::PreferencesParts "$APTD/preferences.d";
Dir::State::Lists "$APTD/lists";
Dir::Cache "$APTD/cache";
APT::Architecture "amd64";
APT::Architectures { "amd64"; };
Acquire::Languages "none";
APT::Sandbox::User "root";
Acquire::IndexTargets::deb::Contents-deb::DefaultEnabled "false";
EOF
    {
        for s in bullseye trixie trixie-backports sid; do
            echo "deb [signed-by=$key] http://deb.debian.org/debian $s main"
        done
        for s in bullseye-security trixie-security; do
            echo "deb [signed-by=$key] http://deb.debian.org/debian-security $s main"
        done
    } >"$APTD/sources.list"
    export APT_CONFIG=$APTD/apt.conf
    if [[ -z $(find "$APTD/updated" -mmin -1440 2>/dev/null) ]]; then
        say "apt-get update (private configuration $APTD/apt.conf)"
        apt-get update >"$APTD/update.log" 2>&1 || { tail -5 "$APTD/update.log" >&2; die "apt-get update failed (see $APTD/update.log)"; }
        touch "$APTD/updated"
    fi
    apt_ready=1
}

# fetch PKG[/SUITE]... — download into $APTD/debs (kept, so a rerun is offline).
fetch() {
    apt_setup
    local p
    for p in "$@"; do
        (cd "$APTD/debs" && apt-get download "$p" >/dev/null 2>>"$APTD/download.log") ||
            die "apt-get download $p failed (see $APTD/download.log; is the release still in Debian's archive?)"
    done
}
# deb_of NAME [VERSION-GLOB] — the downloaded .deb of package NAME.
deb_of() {
    local f
    f=$(find "$APTD/debs" -maxdepth 1 -name "${1}_${2:-*}_*.deb" | sort | tail -n1)
    [[ -n $f ]] || die "no downloaded .deb for $1"
    printf '%s\n' "$f"
}

# kernel KVER — image, modules, debug vmlinux, System.map.
kernel() {
    local kver=$1 kdir=$CACHE/linux-$1 tmp p moddir parts
    # A kernel is whole when its module directory has modules.builtin: the
    # harness needs it to tell a built-in driver from a missing one.
    if [[ -z $(find "$kdir/lib/modules/$kver" "$kdir/usr/lib/modules/$kver" -maxdepth 1 -name modules.builtin 2>/dev/null) ]]; then
        say "fetching the kernel $kver"
        fetch "linux-image-$kver"
        rm -rf "$kdir.part" && mkdir -p "$kdir.part"
        dpkg -x "$(deb_of "linux-image-$kver")" "$kdir.part"
        if ! find "$kdir.part" -name 'vmlinuz*' | grep -q .; then
            # 7.x: the image package is a metapackage over linux-binary
            # (vmlinuz), linux-modules and, since 7.3.4-1~bpo13+1,
            # linux-base (modules.builtin, modules.order, System.map): take
            # every linux-*-<kver> it depends on.
            parts=$(dpkg-deb -f "$(deb_of "linux-image-$kver")" Depends | tr ',|' '\n\n' |
                sed -n "s/^ *\(linux-[a-z-]*-$kver\)\b.*/\1/p" | sort -u)
            [[ -n $parts ]] || die "linux-image-$kver has no vmlinuz and depends on no linux-*-$kver package"
            for p in $parts; do fetch "$p"; dpkg -x "$(deb_of "$p")" "$kdir.part"; done
        fi
        find "$kdir.part" -name 'vmlinuz*' | grep -q . || die "no vmlinuz in the packages of $kver"
        find "$kdir.part" -path "*/modules/$kver/modules.builtin" | grep -q . ||
            die "no modules.builtin in the packages of $kver: a package of it is missing"
        rm -rf "$kdir" && mv "$kdir.part" "$kdir"
    fi
    if [[ ! -s $CACHE/vmlinux-$kver ]]; then
        say "fetching the debug vmlinux of $kver (a large download)"
        fetch "linux-image-$kver-dbg"
        tmp=$(mktemp -d "$CACHE/dbg.XXXXXX")
        # Only the vmlinux and System.map: the package also holds every
        # module's debug info (7.3.4: 6.8 GB unpacked). tar exits 2 for a
        # pattern with no match (each layout has only some); the files
        # are checked below instead.
        dpkg-deb --fsys-tarfile "$(deb_of "linux-image-$kver-dbg")" |
            tar -x -C "$tmp" --wildcards "./usr/lib/debug/boot/*$kver*" "./usr/lib/debug/lib/modules/$kver/vmlinux" \
                2>/dev/null || true
        # 6.1: usr/lib/debug/boot/vmlinux-<ver>; 7.x: that is a symlink to
        # usr/lib/debug/lib/modules/<ver>/vmlinux.
        p=$tmp/usr/lib/debug/boot/vmlinux-$kver
        [[ -e $p ]] || p=$tmp/usr/lib/debug/lib/modules/$kver/vmlinux
        [[ -e $p ]] || die "no vmlinux in linux-image-$kver-dbg"
        cp -L "$p" "$CACHE/vmlinux-$kver.part" && mv "$CACHE/vmlinux-$kver.part" "$CACHE/vmlinux-$kver"
        p=$tmp/usr/lib/debug/boot/System.map-$kver
        [[ -s $p ]] && cp -L "$p" "$CACHE/System.map-$kver"
        rm -rf "$tmp" "$(deb_of "linux-image-$kver-dbg")"
    fi
    if [[ ! -s $CACHE/System.map-$kver ]] || grep -q 'placeholder\|intentionally' "$CACHE/System.map-$kver"; then
        # The image's own map, when it is a real one (6.12's is a placeholder).
        for p in "$kdir/boot/System.map-$kver" "$kdir/usr/lib/modules/$kver/System.map"; do
            if [[ -s $p && $(wc -l <"$p") -gt 1000 ]]; then cp -L "$p" "$CACHE/System.map-$kver"; break; fi
        done
        if [[ ! -s $CACHE/System.map-$kver ]]; then
            # Build it from the debug vmlinux's symbol table, as the kernel's
            # own scripts/mksysmap does.
            nm -n "$CACHE/vmlinux-$kver" | grep -v ' [aNUw] \| \$[adt]\|\.L' >"$CACHE/System.map-$kver.part"
            mv "$CACHE/System.map-$kver.part" "$CACHE/System.map-$kver"
        fi
    fi
    moddir=$kdir/lib/modules/$kver
    [[ -d $moddir ]] || moddir=$kdir/usr/lib/modules/$kver
    [[ -d $moddir ]] || die "no module directory for $kver in $kdir"
}

# crash VERSION SUITE — $CACHE/crash-VERSION/crash, a wrapper over its own loader.
crash_unpacked() {
    local ver=$1 suite=$2 dir=$CACHE/crash-$1 l
    [[ -x $dir/crash && -x $dir/root/usr/bin/crash ]] && return 0
    say "fetching crash $ver ($suite) and sid's libraries"
    fetch "crash/$suite"
    for l in "${crash_libs[@]}"; do [[ -n $(find "$APTD/debs" -maxdepth 1 -name "${l}_*.deb") ]] || fetch "$l/sid"; done
    rm -rf "$dir.part" && mkdir -p "$dir.part/root"
    dpkg -x "$(deb_of crash "$(sed 's/:/%3a/' <<<"$ver")-*")" "$dir.part/root"
    for l in "${crash_libs[@]}"; do dpkg -x "$(deb_of "$l")" "$dir.part/root"; done
    cat >"$dir.part/crash" <<EOF
#!/bin/sh
# crash $ver from Debian $suite, run through its own unpacked loader and libraries.
r=\$(dirname "\$(readlink -f "\$0")")/root
exec "\$r/usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2" --library-path "\$r/usr/lib/x86_64-linux-gnu:\$r/usr/lib64" "\$r/usr/bin/crash" "\$@"
EOF
    chmod 755 "$dir.part/crash"
    "$dir.part/crash" --version >/dev/null 2>&1 || die "crash $ver does not run from $dir.part"
    rm -rf "$dir" && mv "$dir.part" "$dir"
}

crash_unpacked "$crash_old" trixie
crash_unpacked "$crash_new" sid
mkdir -p "$MX"
: >"$MX/kernels.part"
want=${KX_MATRIX:-}
for entry in $kernels; do
    label=${entry%%:*} kver=${entry#*:}
    [[ -z $want || " $want " == *" $label "* ]] || continue
    kernel "$kver"
    c=$CACHE/crash-$crash_old/crash
    [[ $label == 7* ]] && c=$CACHE/crash-$crash_new/crash
    echo "$label $kver $c" >>"$MX/kernels.part"
done
mv "$MX/kernels.part" "$MX/kernels"
say "ok: $(awk '{printf "%s%s", sep, $2; sep=", "}' "$MX/kernels")"
