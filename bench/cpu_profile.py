"""Run a module under cProfile timed by the process's CPU clock: ``python -m bench.cpu_profile
OUT -m MODULE [ARGS...]``.

``python -m cProfile`` times calls by the wall clock. On a machine the bench keeps busy (two
cores shared by the broker, PostgreSQL, three services and the load) a wall-clock profile charges
a call for the time its process waited to be scheduled: a loopback ``socket.send`` that wakes the
reader looks like a millisecond of work. Timed by ``time.process_time`` a call is charged only the
CPU this process spent in it, which is what "CPU per referral" asks about. The profile is written
to ``OUT`` when the module returns or is interrupted (the bench stops profiled services with
SIGINT).

Reading one: cProfile counts each resumption of a coroutine as a call, so an ``async def`` that
awaits five times a batch shows five calls a batch (intake's ``on_referrals``: 3,512 "calls" for
693 referrals); the counts of plain functions are calls. And ``process_time`` is the whole
process's: CPU another thread spends (a resolver in the default executor, say) is charged to
whatever the event loop's thread was in meanwhile.
"""

from __future__ import annotations

import cProfile
import runpy
import sys
import time


def main(argv: list[str]) -> None:
    if len(argv) < 3 or argv[1] != "-m":
        raise SystemExit("usage: python -m bench.cpu_profile OUT -m MODULE [ARGS...]")
    out, module, rest = argv[0], argv[2], argv[3:]
    sys.argv = [module, *rest]
    profiler = cProfile.Profile(time.process_time)
    profiler.enable()
    try:
        runpy.run_module(module, run_name="__main__", alter_sys=True)
    except KeyboardInterrupt:
        pass
    finally:
        profiler.disable()
        profiler.dump_stats(out)


if __name__ == "__main__":
    main(sys.argv[1:])
