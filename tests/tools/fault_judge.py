#!/usr/bin/env python3
"""Judge what one faulted capture left on the dump disk (tests/vm/fault-tests.sh).

    fault_judge.py CASE_DIR --name NAME --fs FS --kexdump BIN --vmlinux FILE
                   [--crash crash] [--eio]

CASE_DIR is a tests/vm/capture-cycle.sh output directory: fs/ (the dump
disk read back after the journal was replayed), serial.log (everything the
guest printed before the power cut or the end), cycle.env, fault.txt.

Prints one "PASS: NAME: check" or "FAIL: NAME: check" line per check (with
indented detail after a FAIL), then one line
    ROW<TAB>name<TAB>fs<TAB>file left<TAB>verify<TAB>crash<TAB>dmesg<TAB>record
for the table. Exits 0 when every check passed, 1 otherwise.

The checks (the goal of issue 11: whatever reached the disk stays readable):
  announced   what the capture said it saved before the cut is on the disk:
              "saved dmesg.txt (N bytes)" -> dmesg.txt of N bytes holding the
              panic line; "saved vmcore" -> vmcore (renamed: whole);
              "capture complete" -> kexdump.json "complete"
  files       no file the capture would not leave: a dump file only beside a
              kexdump.json (the placeholder is durable before the dump is
              created); never both vmcore and vmcore.incomplete
  verify      `kexdump verify` on the dump file: vmcore must exit 0;
              vmcore.incomplete 4 (a consistent INCOMPLETE prefix) or 0; an
              empty vmcore.incomplete is "nothing reached the disk"; exit 1
              (broken) fails, and so does any crash of the tool
  dmesg       `kexdump dmesg` on the dump: the panic line for a whole dump;
              for a prefix with saved pages the panic line (the printk ring
              is saved first); for one without, a clean error; never a tool
              crash
  crash       crash with the debug vmlinux: a whole dump runs sys/bt/log with
              the panic named; a prefix is read and reported incomplete
              ("This dumpfile is incomplete"), and with saved pages
              `crash --zero_excluded` runs sys/bt/log with the panic named;
              crash itself must not die on a signal
  list        `kexdump list --dir fs/crash --json` exits 0, lists the capture
              with the dump file that is there, and its status matches the
              record (unknown without one)
  record      kexdump.json parses and tells the truth about what exists:
              saving (phase dump|crc32) only beside what that phase can
              leave; complete only with vmcore verifying 0 and its CRC32
              and size; incomplete with the dump file named, present, an
              error and (kdump format) an INCOMPLETE header; failed with no
              dump data. With --eio the final record must carry the I/O
              error (or, when the file system could take no more writes,
              the placeholder must still say "saving").
"""
import argparse
import json
import os
import re
import subprocess
import sys

PANIC = "Kernel panic - not syncing: sysrq triggered crash"


def run(cmd, timeout=600, stdin=None):
    try:
        p = subprocess.run(cmd, input=stdin, capture_output=True, text=True, timeout=timeout,
                           errors="replace")
        return p.returncode, p.stdout, p.stderr
    except subprocess.TimeoutExpired:
        return "timeout", "", f"timed out after {timeout}s"


def tool_crashed(rc, err):
    """A signal, a Rust panic or a timeout: the tool itself broke."""
    return rc == "timeout" or rc < 0 or rc == 101 or rc >= 128 or "panicked at" in err


def human(n):
    for unit in ("B", "K", "M", "G"):
        if n < 1024 or unit == "G":
            return f"{n:.0f}{unit}" if unit == "B" else f"{n:.1f}{unit}"
        n /= 1024


class Judge:
    def __init__(self, name):
        self.name = name
        self.passed = 0
        self.failed = 0

    def check(self, what, ok, detail=""):
        if ok:
            self.passed += 1
            print(f"PASS: {self.name}: {what}")
        else:
            self.failed += 1
            print(f"FAIL: {self.name}: {what}")
            for line in str(detail).strip().splitlines()[:25]:
                print(f"    {line}")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("case_dir")
    ap.add_argument("--name", required=True)
    ap.add_argument("--fs", required=True)
    ap.add_argument("--kexdump", required=True)
    ap.add_argument("--vmlinux", required=True)
    ap.add_argument("--crash", default="crash")
    ap.add_argument("--eio", action="store_true", help="an I/O error case: the record must name it")
    a = ap.parse_args()
    j = Judge(a.name)
    case = a.case_dir
    serial = open(os.path.join(case, "serial.log"), errors="replace").read()
    env = {}
    if os.path.exists(os.path.join(case, "cycle.env")):
        for line in open(os.path.join(case, "cycle.env")):
            k, _, v = line.rstrip("\n").partition("=")
            env[k] = v
    if a.eio:
        said = [l.split("] ", 1)[-1] for l in serial.splitlines()
                if re.search(r"I/O error|Buffer I/O|EXT4-fs (error|warning)|JBD2|Aborting journal|XFS .*(error|shutdown)|kexdump-capture: (WARNING|ERROR)", l)]
        for l in said[:12]:
            print(f"    guest: {l}")
        j.check("the injected error reached the guest (its kernel logged an I/O error)",
                any("I/O error" in l for l in said), "no 'I/O error' line in serial.log")

    # ---- what is on the disk --------------------------------------------
    root = os.path.join(case, "fs", "crash")
    dirs = sorted(d for d in os.listdir(root) if os.path.isdir(os.path.join(root, d))) \
        if os.path.isdir(root) else []
    j.check("at most one capture directory", len(dirs) <= 1, f"found {dirs}")
    d = os.path.join(root, dirs[0]) if dirs else None
    files = {f: os.path.getsize(os.path.join(d, f)) for f in sorted(os.listdir(d))} if d else {}
    dump_file = "vmcore" if "vmcore" in files else "vmcore.incomplete" if "vmcore.incomplete" in files else None
    dump_path = os.path.join(d, dump_file) if dump_file else None
    left = ", ".join(f"{f} {human(s)}" for f, s in files.items()) if files else \
        ("empty directory" if d else "nothing")

    # ---- what the capture announced before the cut ----------------------
    problems = []
    m = re.search(r"kexdump-capture: saved dmesg.txt \((\d+) bytes\)", serial)
    if m:
        n = int(m.group(1))
        if files.get("dmesg.txt") != n:
            problems.append(f"said 'saved dmesg.txt ({n} bytes)', the disk has {files.get('dmesg.txt')}")
        elif PANIC not in open(os.path.join(d, "dmesg.txt"), errors="replace").read():
            problems.append("dmesg.txt lacks the panic line")
    if "kexdump-capture: saved vmcore:" in serial and "vmcore" not in files:
        problems.append("said 'saved vmcore', the disk has no vmcore")
    record = None
    record_err = None
    if "kexdump.json" in files:
        text = open(os.path.join(d, "kexdump.json"), "rb").read()
        try:
            record = json.loads(text.decode().rstrip(" \n\0"))
        except (ValueError, UnicodeDecodeError) as e:
            record_err = f"kexdump.json does not parse: {e}; {text[:200]!r}"
    if "kexdump-capture: capture complete" in serial and (record or {}).get("status") != "complete":
        problems.append(f"said 'capture complete', the record says {(record or {}).get('status')}")
    j.check("what the capture announced before the fault is on the disk", not problems, "\n".join(problems))

    odd = []
    if dump_file and "kexdump.json" not in files:
        odd.append(f"{dump_file} without kexdump.json (the placeholder is made durable before the dump)")
    if "vmcore" in files and "vmcore.incomplete" in files:
        odd.append("both vmcore and vmcore.incomplete")
    extra = set(files) - {"dmesg.txt", "kexdump.json", "vmcore", "vmcore.incomplete",
                          "kexdump.json.incomplete", "dmesg.txt.incomplete"}
    if extra:
        odd.append(f"unexpected files {sorted(extra)}")
    j.check("only files a capture leaves, in a possible combination", not odd, "\n".join(odd))

    # ---- verify ---------------------------------------------------------
    verify_cell = "-"
    verdict = None  # "complete", "incomplete", "empty", "broken"
    v = {}
    if dump_path:
        rc, out, err = run([a.kexdump, "verify", "--json", dump_path])
        try:
            v = json.loads(out) if out.strip() else {}
        except ValueError:
            v = {}
        pages = v.get("pages", {})
        saved = (pages.get("dumped") or 0) - (pages.get("not_saved") or 0)
        if tool_crashed(rc, err):
            verdict = "tool crash"
        elif files[dump_file] == 0 and dump_file == "vmcore.incomplete":
            verdict = "empty"
        elif rc == 0:
            verdict = "complete"
        elif rc == 4:
            verdict = "incomplete"
        else:
            verdict = "broken"
        detail = f"exit {rc}: {(v.get('problem') or {}).get('message') or err.strip()[-400:]}"
        if verdict in ("complete", "incomplete"):
            verify_cell = f"{rc} {verdict}, {saved} of {pages.get('dumped')} pages"
        elif verdict == "empty":
            verify_cell = "empty file (no data yet)"
        else:
            verify_cell = f"{rc} {verdict}"
        if dump_file == "vmcore":
            j.check("verify: the renamed vmcore is complete (exit 0)", verdict == "complete", detail)
        else:
            j.check("verify: vmcore.incomplete reads as a consistent prefix (exit 4 or 0) or is empty",
                    verdict in ("incomplete", "complete", "empty"), detail)
    readable = verdict in ("complete", "incomplete")

    # ---- kexdump dmesg --------------------------------------------------
    dmesg_cell = "-"
    if readable:
        rc, out, err = run([a.kexdump, "dmesg", dump_path])
        has = PANIC in out
        if tool_crashed(rc, err):
            dmesg_cell = f"tool crash ({rc})"
            j.check("kexdump dmesg does not crash", False, err[-600:])
        elif verdict == "complete":
            dmesg_cell = "panic line" if rc == 0 and has else f"exit {rc}"
            j.check("kexdump dmesg on the whole dump has the panic line", rc == 0 and has, err[-600:])
        elif saved > 0:
            # The printk ring is among the pages saved before all others
            # (capture/src/first_pages.rs): any prefix with a page has it.
            dmesg_cell = "panic line" if rc == 0 and has else f"exit {rc}"
            j.check("kexdump dmesg on a prefix with saved pages has the panic line", rc == 0 and has, err[-600:])
        else:
            if rc == 0 and has:
                dmesg_cell = "panic line"
            else:
                m = re.search(r"page pfn (0x[0-9a-f]+) was never written", err)
                first = f"log page pfn {m.group(1)} not saved" if m else \
                    (err.strip().splitlines() or ["?"])[-1].strip()[:60]
                dmesg_cell = f"clean error ({first})"
            j.check("kexdump dmesg on the prefix: the panic line or a clean error", (rc == 0 and has) or rc != 0,
                    f"exit {rc} without the panic line\n{err[-600:]}")

    # ---- crash ----------------------------------------------------------
    crash_cell = "-"
    if readable:
        rc, out, err = run([a.crash, "-s", a.vmlinux, dump_path], stdin="sys\nbt\nlog\nq\n", timeout=600)
        both = out + err
        warned = "This dumpfile is incomplete" in both or "incomplete" in both.lower()
        sig = rc == "timeout" or (isinstance(rc, int) and (rc < 0 or rc >= 128))
        opened = 'PANIC: "Kernel panic - not syncing: sysrq triggered crash"' in both
        if verdict == "complete":
            ok = not sig and opened and "sysrq_handle_crash" in both and PANIC in both
            crash_cell = "sys/bt/log ok" if ok else f"failed ({rc})"
            j.check("crash opens the whole dump (sys, bt, log, panic named)", ok,
                    "\n".join(both.strip().splitlines()[-15:]))
        else:
            fatal = [l for l in both.splitlines() if l.startswith("crash: ")]
            crash_cell = ("warns incomplete" if warned else "no warning") + \
                (", sys/bt/log run" if opened else
                 f", cannot start: {fatal[0][7:60]}" if fatal else f", then exits {rc}")
            j.check("crash reads the prefix and says it is incomplete (no crash of crash)", warned and not sig,
                    "\n".join(both.strip().splitlines()[-15:]))
            if saved > 0:
                # The kernel image, page tables, per-CPU areas and the
                # crashing task's stack come first: crash starts on them
                # when missing pages read as zeros, as it suggests.
                rc, out, err = run([a.crash, "-s", "--zero_excluded", a.vmlinux, dump_path],
                                   stdin="sys\nbt\nlog\nq\n", timeout=600)
                both = out + err
                ok = 'PANIC: "Kernel panic - not syncing: sysrq triggered crash"' in both and \
                    "sysrq_handle_crash" in both and PANIC in both
                crash_cell += "; --zero_excluded: " + ("sys/bt/log ok" if ok else f"failed ({rc})")
                j.check("crash --zero_excluded runs sys/bt/log on a prefix with saved pages", ok,
                        "\n".join(both.strip().splitlines()[-15:]))

    # ---- kexdump list ---------------------------------------------------
    if d:
        rc, out, err = run([a.kexdump, "list", "--dir", root, "--json"])
        lst = None
        try:
            lst = json.loads(out)
        except ValueError:
            pass
        why = []
        if tool_crashed(rc, err) or rc != 0 or not lst:
            why.append(f"exit {rc}: {err[-400:]}")
        else:
            entries = [e for e in lst["dumps"] if e["dir"] == dirs[0]]
            if len(entries) != 1:
                why.append(f"capture {dirs[0]} not listed once: {lst}")
            else:
                e = entries[0]
                if e["dump_file"] != dump_file:
                    why.append(f"dump_file {e['dump_file']}, the directory has {dump_file}")
                want = (record or {}).get("status") if record and record.get("schema") == "kexdump.capture/1" \
                    else "unknown"
                if e["status"] != want:
                    why.append(f"status {e['status']}, the record says {want}")
                if want == "saving" and not any("saving" in p for p in e["problems"]):
                    why.append(f"a 'saving' record, but no problem names the cut: {e['problems']}")
                if record is None and not any("kexdump.json" in p for p in e["problems"]):
                    why.append(f"no record, and no problem says so: {e['problems']}")
                print(f"    list: {e['status']} {e['dump_file']} problems={e['problems']}")
        j.check("kexdump list tells the truth about the capture", not why, "\n".join(why))

    # ---- the record -----------------------------------------------------
    record_cell = "-"
    why = []
    if record_err:
        why.append(record_err)
        record_cell = "unparsable"
    elif record is None:
        record_cell = "none"
        # Fine only while no dump exists (see the files check).
    else:
        st, phase = record.get("status"), record.get("phase")
        dump = record.get("dump") or {}
        err_text = record.get("error") or ""
        record_cell = st + (f"/{phase}" if phase else "")
        if err_text:
            m = re.search(r"dump incomplete: (.*?)( \(header marked INCOMPLETE\))?$", err_text)
            record_cell += f": {m.group(1) if m else err_text[-80:]}"
        if st == "saving":
            if phase == "dump":
                if dump:
                    why.append("phase dump, yet dump facts are recorded")
            elif phase == "crc32":
                f = dump.get("file")
                if f not in files:
                    why.append(f"phase crc32 names {f}, which is not there")
                elif f == "vmcore" and verdict != "complete":
                    why.append("phase crc32 with vmcore that does not verify complete")
                elif f == "vmcore.incomplete" and not err_text:
                    why.append("phase crc32 with vmcore.incomplete but no error")
            else:
                why.append(f"status saving with phase {phase!r}")
        elif st == "complete":
            if dump.get("file") != "vmcore" or verdict != "complete":
                why.append(f"complete, but {dump.get('file')} verifies {verdict}")
            elif dump.get("bytes") != files.get("vmcore"):
                why.append(f"bytes {dump.get('bytes')} != {files.get('vmcore')}")
            if phase is not None or err_text:
                why.append(f"complete with phase {phase!r} error {err_text!r}")
        elif st == "incomplete":
            f = dump.get("file")
            if f not in files:
                why.append(f"incomplete names {f}, which is not there")
            if not err_text:
                why.append("incomplete without an error")
            if f == "vmcore.incomplete" and verdict not in ("incomplete", "empty"):
                why.append(f"incomplete, but {f} verifies {verdict}")
            if dump.get("bytes") != files.get(f):
                why.append(f"bytes {dump.get('bytes')} != {files.get(f)}")
        elif st == "failed":
            if not err_text:
                why.append("failed without an error")
            if verdict in ("complete", "incomplete") and (dump.get("bytes") or 0) > 0:
                why.append(f"failed, but {dump_file} holds data ({verdict})")
        else:
            why.append(f"unknown status {st!r}")
        # The pages the record says were written are on the disk: all of
        # them for a complete dump; for an incomplete one at least those
        # (after an I/O error the capture can only count what a barrier
        # proved durable, and more may have reached the disk).
        said = dump.get("pages_written")
        if st in ("complete", "incomplete") and said is not None and verdict in ("complete", "incomplete"):
            pages = v.get("pages", {})
            on_disk = (pages.get("dumped") or 0) - (pages.get("not_saved") or 0)
            if said > on_disk or (st == "complete" and said != on_disk):
                why.append(f"the record says {said} pages written, the disk holds {on_disk}")
            elif said != on_disk:
                print(f"    record: {said} pages written (known durable), the disk holds {on_disk}")
        if a.eio:
            io_named = re.search(r"Input/output error|os error 5|EIO|I/O error", err_text)
            if st in ("incomplete", "failed") and not io_named:
                why.append(f"the I/O error is not named: {err_text!r}")
            elif st == "complete":
                why.append("complete, although the disk failed a request")
            elif st == "saving":
                # The final record could not be written: the file system
                # refused writes (journal aborted). Say so only if the
                # guest said so too.
                if not re.search(r"kexdump.json: .*(Read-only|Input/output|os error (5|30))", serial):
                    why.append("the record still says saving, and the capture reported no failure writing it")
    if a.eio and not why and not re.search(r"kexdump-capture: (reboot|poweroff|halt) \(after", serial):
        why.append("the capture never reached its final action (hang?)")
    j.check("kexdump.json is readable and truthful about what exists" + (" (and names the I/O error)" if a.eio else ""),
            not why, "\n".join(why))

    print("ROW\t" + "\t".join([a.name, a.fs, left, verify_cell, crash_cell, dmesg_cell, record_cell]))
    print(f"    judged {a.name}: {j.passed} passed, {j.failed} failed")
    sys.exit(0 if j.failed == 0 else 1)


if __name__ == "__main__":
    main()
