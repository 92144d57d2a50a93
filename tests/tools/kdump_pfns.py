#!/usr/bin/env python3
"""Compare the page sets of kdump-compressed dumps, reading their bitmaps
directly (independently of kexdump's Rust code).

  kdump_pfns.py A.kdump B.kdump   exit 0 when both 2nd bitmaps are equal,
                                  1 (with a summary of the difference) if not
  kdump_pfns.py A.kdump           print the dump's page counts
  --zero (either form)            also the zero pages: the pfns whose page
                                  descriptor points at data another
                                  descriptor shares (the one zero-page record
                                  written at levels with bit 1); compared too
"""
import struct
import sys
from collections import Counter


def bitmaps(path):
    with open(path, "rb") as f:
        hdr = f.read(464)
        if hdr[:8] != b"KDUMP   ":
            sys.exit(f"{path}: not a kdump-compressed file (signature {hdr[:8]!r})")
        block_size, sub_hdr_size, bitmap_blocks, max_mapnr = struct.unpack_from("<iiII", hdr, 428)
        f.seek(block_size + 96)
        (max_mapnr_64,) = struct.unpack("<Q", f.read(8))
        if max_mapnr_64:
            max_mapnr = max_mapnr_64
        half = bitmap_blocks * block_size // 2
        f.seek((1 + sub_hdr_size) * block_size)
        bm1 = f.read(half)
        bm2 = f.read(half)
    return max_mapnr, int.from_bytes(bm1, "little"), int.from_bytes(bm2, "little")


def pfns(bits):
    out = []
    while bits:
        low = bits & -bits
        out.append(low.bit_length() - 1)
        bits ^= low
    return out


def dumped_pfns(bm2_bytes):
    """pfns of the set bits, in order (LSB first within each byte)."""
    out = []
    for i, byte in enumerate(bm2_bytes):
        if byte:
            base = i * 8
            for b in range(8):
                if byte >> b & 1:
                    out.append(base + b)
    return out


def zero_pfns(path):
    """pfns whose descriptor's data offset is shared with another descriptor."""
    with open(path, "rb") as f:
        hdr = f.read(464)
        block_size, sub_hdr_size, bitmap_blocks = struct.unpack_from("<iiI", hdr, 428)
        half = bitmap_blocks * block_size // 2
        f.seek((1 + sub_hdr_size) * block_size + half)
        dumped = dumped_pfns(f.read(half))
        f.seek((1 + sub_hdr_size + bitmap_blocks) * block_size)
        raw = f.read(24 * len(dumped))
    if len(raw) != 24 * len(dumped):
        sys.exit(f"{path}: page descriptors cut short")
    offsets = [d[0] for d in struct.iter_unpack("<qIIQ", raw)]
    shared = {o for o, n in Counter(offsets).items() if n > 1}
    return {pfn for pfn, o in zip(dumped, offsets) if o in shared}


def main():
    args = [a for a in sys.argv[1:] if a != "--zero"]
    zero = "--zero" in sys.argv[1:]
    if len(args) not in (1, 2):
        sys.exit(__doc__)
    a = bitmaps(args[0])
    if len(args) == 1:
        line = f"max_mapnr {a[0]} present {bin(a[1]).count('1')} dumped {bin(a[2]).count('1')}"
        if zero:
            line += f" zero {len(zero_pfns(args[0]))}"
        print(line)
        return 0
    b = bitmaps(args[1])
    ok = True
    for name, x, y in (("1st", a[1], b[1]), ("2nd", a[2], b[2])):
        if x != y:
            ok = False
            only_a, only_b = pfns(x & ~y), pfns(y & ~x)
            print(f"{name} bitmap differs: {len(only_a)} pfns only in {args[0]} "
                  f"(first {[hex(p) for p in only_a[:8]]}), {len(only_b)} only in {args[1]} "
                  f"(first {[hex(p) for p in only_b[:8]]})")
        else:
            print(f"{name} bitmap equal: {bin(x).count('1')} pfns")
    if zero:
        za, zb = zero_pfns(args[0]), zero_pfns(args[1])
        if za != zb:
            ok = False
            only_a, only_b = sorted(za - zb), sorted(zb - za)
            print(f"zero pages differ: {len(only_a)} only in {args[0]} (first {[hex(p) for p in only_a[:8]]}), "
                  f"{len(only_b)} only in {args[1]} (first {[hex(p) for p in only_b[:8]]})")
        else:
            print(f"zero pages equal: {len(za)} pfns")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
