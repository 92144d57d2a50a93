#!/usr/bin/env python3
"""drgn (PyPI 0.3.0) reads a dump: prints the kernel release and the crashed
thread's call chain; exits non-zero unless sysrq_handle_crash is in it.

  drgn_check.py DUMP VMLINUX
"""
import sys

import drgn

prog = drgn.Program()
prog.set_core_dump(sys.argv[1])
prog.load_debug_info([sys.argv[2]])
print(prog["init_uts_ns"].name.release.string_().decode())
names = [f.name for f in prog.crashed_thread().stack_trace() if f.name]
print(" <- ".join(names[:8]))
sys.exit(0 if "sysrq_handle_crash" in names else 1)
