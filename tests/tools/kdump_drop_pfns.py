#!/usr/bin/env python3
"""Copy a kdump-compressed dump without some of its pages: their bits are
cleared in the 2nd bitmap and their page descriptors removed, so the copy is
consistent and those pages read as excluded (a negative fixture: readers
must say so).

  kdump_drop_pfns.py IN OUT PFN...    PFN decimal or 0x-hex; each must be
                                      in IN's 2nd bitmap
"""
import struct
import sys


def main():
    if len(sys.argv) < 4:
        sys.exit(__doc__)
    src, dst = sys.argv[1], sys.argv[2]
    drop = sorted({int(p, 0) for p in sys.argv[3:]})
    data = bytearray(open(src, "rb").read())
    if data[:8] != b"KDUMP   ":
        sys.exit(f"{src}: not a kdump-compressed file")
    block_size, sub_hdr_size, bitmap_blocks = struct.unpack_from("<iiI", data, 428)
    half = bitmap_blocks * block_size // 2
    bm2 = (1 + sub_hdr_size) * block_size + half
    desc = (1 + sub_hdr_size + bitmap_blocks) * block_size
    # Index of each dropped pfn among the set bits of the 2nd bitmap.
    bits = int.from_bytes(data[bm2:bm2 + half], "little")
    idx = []
    for pfn in drop:
        if not bits >> pfn & 1:
            sys.exit(f"{src}: pfn {pfn:#x} is not in the dump")
        idx.append(bin(bits & ((1 << pfn) - 1)).count("1"))
    ndesc = bin(bits).count("1")
    table = data[desc:desc + 24 * ndesc]
    kept = b"".join(table[i * 24:(i + 1) * 24] for i in range(ndesc) if i not in set(idx))
    for pfn in drop:
        data[bm2 + pfn // 8] &= ~(1 << (pfn % 8)) & 0xFF
    # The table shrinks at its end; the bytes after it stay (never indexed).
    data[desc:desc + len(kept)] = kept
    with open(dst, "wb") as f:
        f.write(data)
    print(f"dropped {len(drop)} pages: {', '.join(hex(p) for p in drop)}")


if __name__ == "__main__":
    main()
