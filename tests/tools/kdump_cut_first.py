#!/usr/bin/env python3
"""Make the dump a power cut leaves right after kexdump saved its first pages.

usage: kdump_cut_first.py DUMP OUT

DUMP is a complete kdump-compressed file written by kexdump. Its page data
holds, after the shared zero page, the pages saved first
(capture/src/first_pages.rs) in pfn order, then all the others in pfn
order. The boundary is the first record, in file order, whose pfn is lower
than the one before it. OUT is DUMP truncated at that boundary, with every
descriptor pointing past it zeroed ("never written") and the INCOMPLETE
flag set in the header: what the disk holds when the cut comes after the
barrier that made the first pages' descriptors durable.

Prints "first PAGES of TOTAL pages, BYTES bytes"; exits 1 when no boundary
is found (the file is not in that order). Offsets from the format (makedumpfile's
diskdump_mod.h layout), not from the engine.
"""
import struct
import sys


def main():
    src, dst = sys.argv[1], sys.argv[2]
    b = bytearray(open(src, "rb").read())
    block = struct.unpack_from("<i", b, 428)[0]
    sub_blocks = struct.unpack_from("<i", b, 432)[0]
    bitmap_blocks = struct.unpack_from("<I", b, 436)[0]
    half = bitmap_blocks * block // 2
    bitmap2 = (1 + sub_blocks) * block + half
    descs = (1 + sub_blocks) * block + bitmap_blocks * block
    pfns = [i * 8 + k for i in range(half) if b[bitmap2 + i] for k in range(8) if b[bitmap2 + i] >> k & 1]
    recs = [struct.unpack_from("<QI", b, descs + 24 * i) + (pfn, i) for i, pfn in enumerate(pfns)]
    data_start = descs + 24 * len(pfns)
    boundary, prev = None, -1
    for off, _, pfn, _ in sorted(set(recs)):
        if off == data_start:  # the shared zero page
            continue
        if pfn < prev:
            boundary = off
            break
        prev = pfn
    if boundary is None:
        print(f"{src}: no boundary between first pages and the rest", file=sys.stderr)
        sys.exit(1)
    first = 0
    for off, size, _, i in recs:
        if off + size > boundary:
            b[descs + 24 * i:descs + 24 * i + 24] = bytes(24)
        else:
            first += 1
    struct.pack_into("<I", b, 424, struct.unpack_from("<I", b, 424)[0] | 8)
    with open(dst, "wb") as f:
        f.write(b[:boundary])
    print(f"first {first} of {len(pfns)} pages, {boundary} bytes")


if __name__ == "__main__":
    main()
