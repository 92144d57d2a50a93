#!/usr/bin/env python3
"""Checks `kexdump inspect --json` of a real sysrq-crash vmcore against the
debug vmlinux's symbol table.

  inspect_check.py INSPECT_JSON NM_OUTPUT [VMLINUX]

INSPECT_JSON: the output of `kexdump inspect --json VMCORE` (with
              `--vmlinux VMLINUX` when VMLINUX is given).
NM_OUTPUT:    `nm -n VMLINUX` (addresses as linked, before KASLR).
VMLINUX:      also check every frame's `source` (file:line from DWARF)
              against binutils' addr2line (same line, same path suffix).

Exits non-zero unless: the schema is kexdump.inspect/1; the panic message
is "sysrq triggered crash"; the crashing CPU is certain; the call chain has
sysrq_handle_crash <- __handle_sysrq(.cold) <- write_sysrq_trigger in that
order; and every frame (and every CPU's RIP) symbolized from the dump's
kallsyms names a function that nm lists at address - KERNELOFFSET, at the
same start (address - offset).
"""
import bisect
import json
import sys

doc = json.load(open(sys.argv[1]))
errors = []


def need(cond, what):
    if not cond:
        errors.append(what)


need(doc.get("schema") == "kexdump.inspect/1", f"schema {doc.get('schema')!r}")
need(doc.get("panic_message") == "sysrq triggered crash", f"panic_message {doc.get('panic_message')!r}")
need((doc.get("crashing_cpu") or {}).get("certain") is True, f"crashing_cpu {doc.get('crashing_cpu')!r}")
chain = doc.get("call_chain") or {}
names = [f.get("function") for f in chain.get("frames", [])]
print("chain:", " <- ".join(str(n) for n in names))


def index(name, start=0):
    for i in range(start, len(names)):
        if names[i] == name or (names[i] or "").startswith(name + "."):
            return i
    return -1


a = index("sysrq_handle_crash")
b = index("__handle_sysrq", a + 1) if a >= 0 else -1
c = index("write_sysrq_trigger", b + 1) if b >= 0 else -1
need(a >= 0 and b > a and c > b, "chain lacks sysrq_handle_crash <- __handle_sysrq <- write_sysrq_trigger")

# nm: address -> names (text symbols only)
starts, by_addr = [], {}
for line in open(sys.argv[2]):
    parts = line.split()
    if len(parts) != 3 or parts[1] not in "tTwW":
        continue
    addr = int(parts[0], 16)
    if addr not in by_addr:
        starts.append(addr)
        by_addr[addr] = []
    by_addr[addr].append(parts[2])
starts.sort()
koff = int(doc["kernel"]["kernel_offset"] or "0", 16)


def check(addr_hex, function, offset, what):
    addr = int(addr_hex, 16) - koff
    start = addr - offset
    # the frame's symbol starts exactly where nm has a symbol of that name
    ok = function in by_addr.get(start, [])
    i = bisect.bisect_right(starts, addr - (0 if what == "rip" else 1)) - 1
    nearest = by_addr.get(starts[i], []) if i >= 0 else []
    need(ok, f"{what} {addr_hex}: kallsyms says {function}+{offset:#x}, nm has {by_addr.get(start)} at {start:#x} (nearest {nearest})")
    return ok


checked = 0
for f in chain.get("frames", []):
    if f.get("function"):
        checked += check(f["addr"], f["function"], f["offset"], "rip" if f.get("stack_addr") is None else "frame")
for cpu in doc.get("cpus", []):
    sym = cpu.get("rip_symbol")
    if sym:
        name, rest = sym.split("+", 1)
        checked += check(cpu["registers"]["rip"], name, int(rest.split("/")[0], 16), "rip")
need(checked >= 5, f"only {checked} symbols checked")

if len(sys.argv) > 3:
    import subprocess

    frames = [f for f in chain.get("frames", []) if f.get("function")]
    # a return address's line is its call's: the byte before it
    addrs = [int(f["addr"], 16) - koff - (0 if f.get("stack_addr") is None else 1) for f in frames]
    out = subprocess.run(["addr2line", "-e", sys.argv[3]] + [hex(a) for a in addrs],
                         capture_output=True, text=True, check=True).stdout.split("\n")
    lines_ok = 0
    for f, theirs in zip(frames, out):
        ours = f.get("source") or ""
        o_path, _, o_line = ours.rpartition(":")
        t_path, _, t_line = theirs.rpartition(":")
        t_line = t_line.split()[0] if t_line else ""
        same = bool(ours) and o_line == t_line and (t_path.endswith(o_path) or o_path.endswith(t_path))
        need(same, f"{f['symbol']}: source {ours!r}, addr2line {theirs!r}")
        lines_ok += same
    print(f"{lines_ok} of {len(frames)} file:line agree with addr2line")
print(f"{checked} symbols agree with nm (KERNELOFFSET {koff:#x})")
for e in errors:
    print("FAIL:", e)
sys.exit(1 if errors else 0)
