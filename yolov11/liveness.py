"""Whether the process that owns a run is still alive, so no run stays "running" forever.

A run's registry row names its owner: ``host|boot id|pid|process start time``. A bare pid is
not enough: after a restart (a container's app is often pid 1 again) the pid belongs to
someone else. Each owning process also touches ``<workspace>/.owners/<token>`` every
``HEARTBEAT_S`` seconds, which answers for owners on other machines (torchrun nodes sharing
the workspace) and in other containers, whose pids this process cannot see.

An owner of this machine and boot is alive while its pid has the same start time; any other
while its heartbeat is fresh.
"""

from __future__ import annotations

import os
import re
import socket
import threading
import time
from pathlib import Path

HEARTBEAT_S = 30.0  # how often an owner says it is alive
STALE_S = 180.0  # a heartbeat this old means its process is gone (6 missed beats)
_started: set[str] = set()
_lock = threading.Lock()


def _boot_id() -> str:
    try:
        return Path("/proc/sys/kernel/random/boot_id").read_text().strip()
    except OSError:
        return "-"


def _start_time(pid: int) -> str | None:
    """The process's start time in clock ticks since boot (/proc), "-" where /proc is missing,
    None when no such process exists."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return fields[19]
    except FileNotFoundError:
        return None
    except (OSError, IndexError):
        pass
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return None
    except PermissionError:
        pass
    return "-"


def token(pid: int | None = None) -> str:
    """This process's owner token (or ``pid``'s, on this machine)."""
    pid = pid or os.getpid()
    return f"{socket.gethostname()}|{_boot_id()}|{pid}|{_start_time(pid) or '-'}"


def _beat_file(folder: Path, owner: str) -> Path:
    return Path(folder) / re.sub(r"[^A-Za-z0-9._-]", "_", owner)


def start_heartbeat(folder: Path) -> None:
    """Keep ``folder/<this process's token>`` fresh while this process lives (once per folder)."""
    path = _beat_file(folder, token())
    with _lock:
        if str(path) in _started:
            return
        _started.add(str(path))

    def beat() -> None:
        while True:
            try:
                path.parent.mkdir(parents=True, exist_ok=True)
                path.touch()
            except OSError:  # a full disk: the process check still answers on this machine
                pass
            time.sleep(HEARTBEAT_S)

    threading.Thread(target=beat, name="yolov11-heartbeat", daemon=True).start()


def alive(owner: str | None, folder: Path) -> bool:
    """Whether the process behind ``owner`` (a token) still runs: for a process of this machine
    and boot, whether its pid still has the same start time (exact, even a second after a
    SIGKILL); for any other, whether its heartbeat is fresh."""
    if not owner:
        return False
    if owner == token():
        return True
    host, boot, pid, started = (owner.split("|") + ["", "", "", ""])[:4]
    if host == socket.gethostname() and boot == _boot_id() and pid.isdigit():
        now = _start_time(int(pid))
        return now is not None and (started == "-" or now == "-" or now == started)
    try:
        return time.time() - _beat_file(folder, owner).stat().st_mtime < STALE_S
    except OSError:
        return False


def forget_stale(folder: Path, older_than_s: float = 3600.0) -> None:
    """Remove heartbeat files of owners gone for a while (they only accumulate otherwise)."""
    for path in Path(folder).glob("*"):
        try:
            if time.time() - path.stat().st_mtime > older_than_s:
                path.unlink()
        except OSError:
            pass
