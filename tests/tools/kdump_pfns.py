#!/usr/bin/env python3
"""Compare the page sets of kdump-compressed dumps, reading their bitmaps
directly (independently of kexdump's Rust code).

  kdump_pfns.py A.kdump B.kdump   exit 0 when both 2nd bitmaps are equal,
                                  1 (with a summary of the difference) if not
  kdump_pfns.py A.kdump           print the dump's page counts
"""
import struct
import sys


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
    out, pfn = [], 0
    while bits:
        low = bits & -bits
        out.append(low.bit_length() - 1)
        bits ^= low
    return out


def main():
    a = bitmaps(sys.argv[1])
    if len(sys.argv) == 2:
        print(f"max_mapnr {a[0]} present {bin(a[1]).count('1')} dumped {bin(a[2]).count('1')}")
        return 0
    b = bitmaps(sys.argv[2])
    ok = True
    for name, x, y in (("1st", a[1], b[1]), ("2nd", a[2], b[2])):
        if x != y:
            ok = False
            only_a, only_b = pfns(x & ~y), pfns(y & ~x)
            print(f"{name} bitmap differs: {len(only_a)} pfns only in {sys.argv[1]} "
                  f"(first {[hex(p) for p in only_a[:8]]}), {len(only_b)} only in {sys.argv[2]} "
                  f"(first {[hex(p) for p in only_b[:8]]})")
        else:
            print(f"{name} bitmap equal: {bin(x).count('1')} pfns")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
