"""Whether the process that owns a run (or a scratch folder) is still alive, so no run stays
"running" forever and no live work is swept away.

An owner is named by a token: ``host|boot id|pid namespace|pid|process start time``. A bare pid
is not enough: after a restart (a container's app is often pid 1 again) the pid belongs to
someone else, and containers sharing a host name see different pids. Each owning process also
touches ``<workspace>/.owners/<token>`` every ``HEARTBEAT_S`` seconds, which answers for owners
this process cannot see: other machines (torchrun nodes sharing the workspace), other
containers, other users' processes hidden by ``/proc`` (``hidepid``), systems without ``/proc``.

An owner is alive when its process is provably there (same machine, boot and pid namespace, the
pid with the same start time), or, when that cannot be told, while its heartbeat is fresh.

A job that reads and writes a folder it does not own (a label-issues job inside a run's folder)
says so with ``using(folder, owners, job)``: a marker ``<folder>/.in-use/<token>-<n>.json``
naming the job and its owner, removed when the job ends; ``users(folder, owners)`` lists the
jobs of living owners, so a delete can refuse while one runs, in any process.
"""

from __future__ import annotations

import itertools
import json
import os
import re
import socket
import threading
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from yolov11.errors import UserError

HEARTBEAT_S = 30.0  # how often an owner says it is alive
STALE_S = 180.0  # a heartbeat this old means its process is gone (6 missed beats)
MARKER = ".owner"  # a scratch folder's owner token
IN_USE = ".in-use"  # a folder's markers of the jobs using it (see using())
_uses = itertools.count()
_started: set[str] = set()
_lock = threading.Lock()


def _read(path: str) -> str:
    try:
        return Path(path).read_text().strip()
    except OSError:
        return "-"


def _pid_namespace() -> str:
    try:
        return str(os.stat("/proc/self/ns/pid").st_ino)
    except OSError:
        return "-"


def _start_time(pid: int) -> str | None:
    """The process's start time in clock ticks since boot, "-" when it exists but /proc cannot
    say (no /proc, or hidden by hidepid), None when no such process exists."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[19]
    except (OSError, IndexError):
        pass
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return None
    except PermissionError:  # someone else's process
        return "-"
    return "-"


def token(pid: int | None = None) -> str:
    """This process's owner token (or ``pid``'s, on this machine)."""
    pid = pid or os.getpid()
    return f"{socket.gethostname()}|{_read('/proc/sys/kernel/random/boot_id')}|{_pid_namespace()}|{pid}|{_start_time(pid) or '-'}"


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


def _heartbeat_fresh(owner: str, folder: Path) -> bool:
    try:
        return time.time() - _beat_file(folder, owner).stat().st_mtime < STALE_S
    except OSError:
        return False


def alive(owner: str | None, folder: Path) -> bool:
    """Whether the process behind ``owner`` (a token) still runs; ``folder`` holds heartbeats."""
    if not owner:
        return False
    if owner == token():
        return True
    parts = owner.split("|")
    if len(parts) == 5:
        host, boot, namespace, pid, started = parts
        if (
            (host, boot, namespace) == (socket.gethostname(), _read("/proc/sys/kernel/random/boot_id"), _pid_namespace())
            and pid.isdigit() and "-" not in (boot, namespace)
        ):
            now = _start_time(int(pid))
            if now is None:
                return False  # provably gone, a second after a SIGKILL as much as a day later
            if now != "-" and started != "-":
                return now == started  # the pid lives on in another process: the owner is gone
    return _heartbeat_fresh(owner, folder)  # cannot be told from here: its heartbeat says


def pid_exists(pid: int | None) -> bool:
    """Whether some process of this machine has this pid (rows written before owner tokens)."""
    return bool(pid) and _start_time(int(pid)) is not None


def mark(folder: Path, owners: Path) -> None:
    """Name this process as the owner of a scratch ``folder`` (see ``owned_by_the_living``)."""
    start_heartbeat(owners)
    (Path(folder) / MARKER).write_text(token())


def owned_by_the_living(folder: Path, owners: Path, unmarked_grace_s: float = 86_400.0) -> bool:
    """Whether a scratch folder's owner still runs; an unmarked one counts as alive for a day."""
    try:
        return alive((Path(folder) / MARKER).read_text().strip(), owners)
    except OSError:
        try:
            return time.time() - Path(folder).stat().st_mtime < unmarked_grace_s
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


@contextmanager
def using(folder: Path, owners: Path, job: str) -> Iterator[None]:
    """Mark ``folder`` as used by this process's ``job`` (words for people: "label issues of its
    train split") while the block runs. The folder must exist: a folder deleted meanwhile is a
    FileNotFoundError here, not a folder created again."""
    start_heartbeat(owners)
    marks = Path(folder) / IN_USE
    try:
        marks.mkdir(exist_ok=True)
    except FileNotFoundError:
        raise FileNotFoundError(f"{folder} is gone") from None
    me = token()
    path = marks / f"{_beat_file(marks, me).name}-{next(_uses)}.json"
    path.write_text(json.dumps({"owner": me, "job": job, "since": time.time(), "pid": os.getpid()}))
    try:
        yield
    finally:
        try:
            path.unlink()
        except OSError:  # the folder went with its marker (a delete that did not wait)
            pass


def users(folder: Path, owners: Path) -> list[dict]:
    """The jobs using ``folder`` whose owners still live: ``{"owner", "job", "since", "pid"}``;
    markers of dead owners are removed."""
    found = []
    for path in sorted((Path(folder) / IN_USE).glob("*.json")):
        try:
            mark = json.loads(path.read_text())
        except (OSError, ValueError):
            continue  # being written or removed this instant
        if alive(mark.get("owner"), owners):
            found.append(mark)
        else:
            try:
                path.unlink()
            except OSError:
                pass
    return found


def refuse_while_used(folder: Path, owners: Path, what: str) -> None:
    """UserError naming the job, when a living process's job uses ``folder`` (``what``: "run X")."""
    jobs = users(folder, owners)
    if jobs:
        job = jobs[0]
        since = time.strftime("%H:%M:%S", time.localtime(job.get("since") or 0))
        others = f" (and {len(jobs) - 1} more)" if len(jobs) > 1 else ""
        raise UserError(f"{what}: {job.get('job') or 'a job'} is using it (process {job.get('pid')}, since {since}){others}: "
                        "wait for it to finish, then delete it")
