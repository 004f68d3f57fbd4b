"""Loaded by every Python process of a suite that bench/profile_suite.py starts (this folder is
put first on PYTHONPATH): a thread that profiles the whole process, every thread, in CPU time
(yappi) while the file CRM_PROFILE_DIR/on exists, and saves what it saw as
CRM_PROFILE_DIR/<service>-<pid>.pstat when the file goes away. Without CRM_PROFILE_DIR it does
nothing, so a stray import costs nothing."""
from __future__ import annotations

import os
import sys
import threading
import time
from pathlib import Path


def _watch(directory: Path, name: str) -> None:
    import yappi

    switch = directory / "on"
    while True:
        while not switch.exists():
            time.sleep(0.1)
        yappi.set_clock_type("cpu")
        yappi.clear_stats()
        yappi.start(builtins=False, profile_threads=True)
        while switch.exists():
            time.sleep(0.1)
        yappi.stop()
        yappi.get_func_stats().save(str(directory / f"{name}-{os.getpid()}.pstat"), type="pstat")


def _start() -> None:
    directory = os.environ.get("CRM_PROFILE_DIR")
    if not directory:
        return
    argv = " ".join(sys.orig_argv)  # sys.argv is not set yet while site runs
    name = next((s for s in ("gateway", "contacts", "sales", "marketing", "support", "reporting", "privacy",
                                                 "webhooks")
                 if f"crm_{s}" in argv), None)
    if name is None and "GATEWAY_PORT" in os.environ:  # the gateway's workers (spawned or forked)
        name = "gateway"
    if name is None:
        return
    threading.Thread(target=_watch, args=(Path(directory), name), name="crm-profile", daemon=True).start()


_start()
os.register_at_fork(after_in_child=_start)  # a forked worker has no watch thread of its own
