"""Ending a whole process group: terminate, wait, then kill.

A submission may start helpers of its own (data loaders, a server) that
ignore SIGTERM. Its process leads a group of its own, so the harness ends
the whole group, never just the leader.
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import time

log = logging.getLogger(__name__)


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


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
    deadline = time.monotonic() + kill_wait_s
    while time.monotonic() < deadline:
        process.poll()  # Reaps the leader, so a dead leader is not counted.
        if not _group_alive(pgid):
            return
        time.sleep(0.05)
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
