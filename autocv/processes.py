"""Ending a whole process group: terminate, wait, then kill.

A submission may start helpers of its own (data loaders, a server) that
ignore SIGTERM. Its process leads a group of its own, so the harness ends
the whole group, never just the leader.
"""

from __future__ import annotations

import logging
import os
import pathlib
import signal
import subprocess
import time

log = logging.getLogger(__name__)


def _group_alive(pgid: int) -> bool:
    """True while a member of the group runs (zombies do not count).

    A killed process stays a zombie until its parent reaps it; a helper
    whose parent died is reaped by init, which inside a container may never
    happen. So zombies are excluded by reading /proc where there is one.
    """
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    proc = pathlib.Path("/proc")
    if not proc.is_dir():
        return True
    for stat in proc.glob("[0-9]*/stat"):
        try:
            # Fields after the command name: state, ppid, pgrp, ...
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue  # The process ended while we looked.
        if int(fields[2]) == pgid and fields[0] != "Z":
            return True
    return False


def _wait_for_group(pgid: int, process: subprocess.Popen, wait_s: float) -> bool:
    """Waits up to `wait_s` for the group to end; True if it did."""
    deadline = time.monotonic() + wait_s
    while True:
        process.poll()  # Reaps the leader, so a dead leader is not counted.
        if not _group_alive(pgid):
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.05)


def end_process_group(process: subprocess.Popen, kill_wait_s: float) -> None:
    """Sends SIGTERM to the group led by `process`, then SIGKILL if needed.

    Args:
        process: a process started with `start_new_session=True`, so its pid
            is its group's id.
        kill_wait_s: how long the group may take to exit after SIGTERM.
    """
    pgid = process.pid
    if not _group_alive(pgid):
        process.poll()
        return
    log.info("Sending SIGTERM to process group %d", pgid)
    try:
        os.killpg(pgid, signal.SIGTERM)
    except ProcessLookupError:
        process.poll()
        return
    if _wait_for_group(pgid, process, kill_wait_s):
        return
    log.warning(
        "Process group %d still running %.1f s after SIGTERM; sending SIGKILL",
        pgid,
        kill_wait_s,
    )
    try:
        os.killpg(pgid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    process.wait()
    # SIGKILL is delivered at once, but a process leaves only when the
    # kernel has torn it down; return when no member is left running.
    if not _wait_for_group(pgid, process, kill_wait_s):
        log.error("Process group %d survived SIGKILL", pgid)
