#!/usr/bin/env python3
"""Print the facts of a kdump-compressed dump ("KDUMP   ", makedumpfile's
format), read straight from its headers, bitmaps and page descriptors —
independently of kexdump's Rust code.

  kdump-info.py DUMP

Layout (64-bit, little-endian): disk_dump_header in block 0, kdump_sub_header
in block 1, the 1st and 2nd bitmaps after the sub-header blocks, then one
24-byte page descriptor {offset i64, size u32, flags u32, page_flags u64}
per set bit of the 2nd bitmap, then page data.
"""
import datetime
import struct
import sys

STATUS = {0x1: "zlib", 0x2: "lzo", 0x4: "snappy", 0x8: "INCOMPLETE",
          0x10: "excluded-vmemmap", 0x20: "zstd"}
PAGE = {0x1: "zlib", 0x2: "lzo", 0x4: "snappy", 0x20: "zstd"}


def cstr(b):
    return b.split(b"\0", 1)[0].decode(errors="replace")


def main(path):
    with open(path, "rb") as f:
        data_size = f.seek(0, 2)
        f.seek(0)
        hdr = f.read(464)
        if hdr[:8] != b"KDUMP   ":
            sys.exit(f"{path}: not a kdump-compressed file (signature {hdr[:8]!r})")
        (version,) = struct.unpack_from("<i", hdr, 8)
        uts = [cstr(hdr[12 + 65 * i: 12 + 65 * (i + 1)]) for i in range(6)]
        tv_sec, tv_usec = struct.unpack_from("<qq", hdr, 408)
        status, block_size, sub_hdr_size, bitmap_blocks, max_mapnr = struct.unpack_from("<IiiII", hdr, 424)
        current_cpu, nr_cpus = struct.unpack_from("<Ii", hdr, 456)
        f.seek(block_size)
        sub = f.read(104)
        phys_base, dump_level = struct.unpack_from("<qi", sub, 0)
        off_vmci, size_vmci, off_note, size_note = struct.unpack_from("<qQqQ", sub, 32)
        (max_mapnr_64,) = struct.unpack_from("<Q", sub, 96)
        if max_mapnr_64:
            max_mapnr = max_mapnr_64
        f.seek(off_vmci)
        vmci = dict(line.split("=", 1) for line in f.read(size_vmci).decode(errors="replace").splitlines() if "=" in line)
        half = bitmap_blocks * block_size // 2
        f.seek((1 + sub_hdr_size) * block_size)
        bm1 = int.from_bytes(f.read(half), "little")
        bm2 = int.from_bytes(f.read(half), "little")
        present, dumped = bin(bm1).count("1"), bin(bm2).count("1")
        f.seek((1 + sub_hdr_size + bitmap_blocks) * block_size)
        descs = f.read(24 * dumped)
    kinds, offsets, data = {}, set(), 0
    shared = 0
    for i in range(dumped):
        off, size, flags, _ = struct.unpack_from("<qIIQ", descs, 24 * i)
        kind = PAGE.get(flags & 0x27, "raw" if flags == 0 else f"flags {flags:#x}")
        kinds[kind] = kinds.get(kind, 0) + 1
        if off in offsets:
            shared += 1
        else:
            offsets.add(off)
            data += size
    flags = [n for b, n in STATUS.items() if status & b] or ["none"]
    when = datetime.datetime.fromtimestamp(tv_sec, datetime.timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")
    rows = [
        ("file", f"{path}"),
        ("size", f"{data_size:,} bytes ({data_size / 1e6:.1f} MB)"),
        ("format", f"kdump-compressed, header version {version}, block size {block_size}"),
        ("kernel", f"{uts[0]} {uts[2]} {uts[4]} ({uts[3]})"),
        ("node", uts[1]),
        ("dumped at", when),
        ("status", ", ".join(flags)),
        ("dump level", f"{dump_level}"),
        ("cpus", f"{nr_cpus} (crashed on cpu {current_cpu})"),
        ("phys_base", f"{phys_base:#x}"),
        ("KERNELOFFSET", vmci.get("KERNELOFFSET", "?")),
        ("CRASHTIME", vmci.get("CRASHTIME", "?")),
        ("VMCOREINFO", f"{size_vmci} bytes, ELF notes {size_note} bytes"),
        ("pages", f"max_mapnr {max_mapnr:,}, present {present:,}, dumped {dumped:,} "
                  f"({100.0 * dumped / max(present, 1):.1f}% of present)"),
        ("page records", ", ".join(f"{k} {v:,}" for k, v in sorted(kinds.items()))
                         + f"; {shared:,} share a record (zero pages)"),
        ("page data", f"{data:,} bytes for {len(offsets):,} records "
                      f"({data / max(len(offsets), 1):.0f} bytes per 4 KiB page)"),
    ]
    for k, v in rows:
        print(f"  {k:<13} {v}")
    return 0 if not status & 0x8 else 1


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    sys.exit(main(sys.argv[1]))
