#!/usr/bin/env python3
"""drgn (PyPI) walks every task of a dump and reads each one's pid, comm,
state and mm: a filtered dump must still hold all of them.

  drgn_tasks.py DUMP VMLINUX

Prints "tasks N" (drgn.helpers.linux.pid.for_each_task: every task with a
PID, threads included; the per-CPU idle tasks, PID 0, are not among them)
and "excluded-page errors N", then one line per error met while walking or
reading a task, and "pid1-task-phys 0x..." (the physical address of PID 1's
task_struct, for a negative fixture) when drgn can tell it. Exit 0 when no error at all, 1 when any read hit an
excluded page (libkdumpfile: "Excluded page"), 2 on any other error.
"""
import sys

import drgn
from drgn.helpers.linux.mm import virt_to_phys
from drgn.helpers.linux.pid import find_task, for_each_task


def main():
    prog = drgn.Program()
    prog.set_core_dump(sys.argv[1])
    prog.load_debug_info([sys.argv[2]])
    tasks = 0
    errors = []
    try:
        for task in for_each_task(prog):
            try:
                task.pid.value_()
                task.comm.string_()
                task.__state.value_() if hasattr(task, "__state") else task.state.value_()
                mm = task.mm
                if mm.value_():
                    mm.total_vm.value_()
            except (drgn.FaultError, LookupError, ValueError) as e:
                errors.append(f"task {hex(task.value_())}: {e}")
            tasks += 1
    except Exception as e:  # the walk itself failed
        errors.append(f"walking the task list after {tasks} tasks: {type(e).__name__}: {e}")
    excluded = [e for e in errors if "xcluded" in e]
    print(f"tasks {tasks}")
    print(f"excluded-page errors {len(excluded)}")
    for e in errors:
        print(f"error: {e}")
    try:
        init = find_task(prog, 1)
        if init.value_():
            print(f"pid1-task-phys {virt_to_phys(init).value_():#x}")
    except Exception as e:  # only a hint for the caller; not a failure here
        print(f"note: no physical address for PID 1's task: {e}")
    if excluded:
        return 1
    return 2 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
