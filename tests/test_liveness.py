"""Who owns a run, and whether it still lives: the rules reconcile relies on, with real
processes (a live one, a killed one, a pid that lives on in another process) and heartbeats."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time

import yolov11
from yolov11 import liveness


def _sleeper() -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])


def test_a_process_of_this_machine_is_judged_by_its_pid_and_start_time(tmp_path):
    proc = _sleeper()
    try:
        owner = liveness.token(proc.pid)
        assert liveness.alive(owner, tmp_path)
        host, boot, ns, pid, started = owner.split("|")
        reused = "|".join([host, boot, ns, pid, str(int(started) + 1)])  # the same pid, started at another time
        assert not liveness.alive(reused, tmp_path)
    finally:
        proc.kill()
        proc.wait()
    assert not liveness.alive(owner, tmp_path)  # gone the moment it is killed, whatever its heartbeat says


def test_an_owner_this_process_cannot_see_is_judged_by_its_heartbeat(tmp_path):
    elsewhere = f"node-{socket.gethostname()}-b|other-boot|4026531836|4242|123"  # another machine of a torchrun launch
    assert not liveness.alive(elsewhere, tmp_path)
    beat = liveness._beat_file(tmp_path, elsewhere)
    beat.touch()
    assert liveness.alive(elsewhere, tmp_path)
    old = time.time() - liveness.STALE_S - 5
    os.utime(beat, (old, old))
    assert not liveness.alive(elsewhere, tmp_path)
    host, boot, _, pid, started = liveness.token().split("|")
    other_container = "|".join([host, boot, "999", "1", started])  # same host name and boot, another pid namespace
    assert not liveness.alive(other_container, tmp_path)
    liveness._beat_file(tmp_path, other_container).touch()
    assert liveness.alive(other_container, tmp_path)


def test_reconcile_settles_dead_runs_only_and_never_overwrites_a_run_taken_over(tmp_path):
    ws = yolov11.Workspace.at(tmp_path / "ws")
    proc = _sleeper()
    try:
        for run_id, owner in (("live", liveness.token(proc.pid)), ("dead", "gone-host|b|n|1|1"), ("taken", "gone-host|b|n|2|2")):
            ws.add_run(run_id, "d", "yolov11n", {})
            ws.update_run(run_id, status="running", owner=owner)
        stale = ws.run("taken")
        ws.update_run("taken", owner=liveness.token(proc.pid))  # another process resumed it after our read
        assert not ws._settle(stale, "failed", metrics={"error": "x"})  # compare and set: left as the other process made it
        done = ws.reconcile()
        assert done["failed"] == ["dead"]
        assert ws.run("live")["status"] == "running"
        assert ws.run("taken")["status"] == "running"
        assert "no epoch had been saved" in ws.run("dead")["metrics"]["error"]
    finally:
        proc.kill()
        proc.wait()
    assert sorted(ws.reconcile()["failed"]) == ["live", "taken"]  # their owner is gone now


def test_scratch_is_removed_only_once_its_owner_is_gone(tmp_path):
    ws = yolov11.Workspace.at(tmp_path / "ws")
    mine, dead = ws.datasets_dir / ".import-1-mine", ws.datasets_dir / ".import-2-dead"
    pool_dead = ws.root / "pools" / "site" / ".add-3-dead"  # a pool add killed while it unzipped
    for folder in (mine, dead, pool_dead):
        folder.mkdir(parents=True)
    liveness.mark(mine, ws.owners_dir)
    (dead / liveness.MARKER).write_text("gone-host|b|n|7|7")
    (pool_dead / liveness.MARKER).write_text("gone-host|b|n|7|7")
    assert ws.reconcile()["scratch_removed"] == ["datasets/.import-2-dead", "pools/site/.add-3-dead"]
    assert mine.is_dir()
    assert not dead.exists() and not pool_dead.exists()


def test_a_run_is_not_deleted_while_a_label_issues_job_of_another_process_uses_it(trained_run, tmp_path):
    """A label-issues job (in another process, as the CLI beside the app) holds the run: deleting
    it is refused, naming the job, and the run stays whole; once that process is gone (killed:
    no clean exit), its mark no longer holds the run and the delete goes through. The run is a
    copy of the shared trained run's weights, registered in a workspace of its own."""
    from helpers import ROOT

    ws = yolov11.Workspace.at(tmp_path / "ws")
    run = "copy-of-trained"
    run_dir = ws.add_run(run, trained_run["dataset"], "yolov11n", {})
    (run_dir / "weights").mkdir()
    shutil.copyfile(trained_run["weights"], run_dir / "weights" / "best.pt")
    ws.update_run(run, status="done")
    inside = tmp_path / "inside"
    job = ("import pathlib, sys, time, yolov11\n"
           "def wait(fraction, message):\n"  # its first progress report, before it predicts: the job holds the run here
           "    pathlib.Path(sys.argv[3]).touch()\n"
           "    time.sleep(120)\n"
           "yolov11.label_issues(sys.argv[2], 'val', workspace=sys.argv[1], progress=wait)\n")
    proc = subprocess.Popen([sys.executable, "-c", job, str(ws.root), run, str(inside)], cwd=ROOT, stderr=subprocess.PIPE)
    try:
        deadline = time.time() + 120
        while not inside.exists() and proc.poll() is None and time.time() < deadline:
            time.sleep(0.05)
        assert inside.exists(), proc.stderr.read().decode()[-2000:] if proc.poll() is not None else "the job did not start"
        try:
            ws.delete_run(run)
        except yolov11.UserError as refused:
            message = str(refused)
        else:
            message = "deleted"
        assert message.startswith(f"run {run}: label issues of its val split is using it (process {proc.pid}, since "), message
        assert ws.run(run) is not None and (run_dir / "weights" / "best.pt").is_file()
    finally:
        proc.kill()
        proc.wait()
    ws.delete_run(run)
    assert ws.run(run) is None and not run_dir.exists()
    assert list(ws.runs_dir.iterdir()) == []  # nothing moved aside is left
