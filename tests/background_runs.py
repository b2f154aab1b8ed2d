"""Trainings of minutes that start with the test session, in one process of their own, one after
another, each waited for when a test first needs it (conftest's session fixtures):

    corrupted   the demo set (300 images at 320 px, seed 0) with the seeded label corruptions of
                label_corruption.py, trained with the quick-look preset (12 epochs at 320 px):
                shared by tests/test_label_issues.py, tests/test_advice.py and the browser tests
                of fixing a label and of "What to fix next"
    starved     120 demo images at 160 px whose train split holds 10 "head" boxes and over a
                hundred of each other class (40 val images as drawn), 40 epochs: the advice
                test's starved class

Ultralytics trains on the CPU with cpu_count - 1 torch threads and no data-loading workers: one
thread on 2 cores. Under pytest-xdist (``make test``: two workers) the workers share one such
process: it works in ``SHARED`` (a folder the controlling pytest process names in the environment
before its workers start, conftest.py); the first worker to need it starts it under a lock, the
others wait for its files, and only the controlling process (or a run without workers) stops it.
"""

from __future__ import annotations

import fcntl
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

TIMEOUT_S = 1800  # both: 7-9 min alone on 2 idle cores; generous for a machine 4x busier
RUNS = ("corrupted", "starved")
STARVED_CLASS, STARVED_BOXES = "head", 10
SHARED_ENV = "YOLOV11_TEST_BACKGROUND"  # the folder the trainings write to, shared by the xdist workers
_STARTED: list = []  # [Popen] where this process started them


def _corrupted(base: Path) -> dict:
    import yolov11
    from yolov11.data.demo import CLASSES, write_demo

    from label_corruption import corrupt

    ws = yolov11.Workspace.at(base / "ws")
    write_demo(base / "demo-corrupted", n_images=300, size=320, seed=0)
    corruptions = corrupt(base / "demo-corrupted", len(CLASSES), seed=0)
    data = yolov11.import_dataset(base / "demo-corrupted", workspace=ws)
    r = yolov11.train(data["name"], "yolov11n", workspace=ws, workers=0)
    if r["status"] != "done":
        raise SystemExit(f"the corrupted demo run ended {r['status']}: {r.get('metrics')}")
    return {"run": r["run"], "corruptions": corruptions, "dataset": data["name"], "metrics": r["metrics"]}


def _starved(base: Path) -> dict:
    import yolov11
    from yolov11.data.demo import write_demo_starved

    ws = yolov11.Workspace.at(base / "ws")
    heads = write_demo_starved(base / "demo-starved", STARVED_CLASS, STARVED_BOXES, n_train=120, n_val=40, size=160, seed=7)
    data = yolov11.import_dataset(base / "demo-starved", workspace=ws)
    r = yolov11.train(data["name"], "yolov11n", workspace=ws, epochs=40, imgsz=160, batch=16, workers=0, seed=0)
    if r["status"] != "done":
        raise SystemExit(f"the starved run ended {r['status']}: {r.get('metrics')}")
    return {"run": r["run"], "dataset": data["name"], "metrics": r["metrics"], "train_heads": heads}


def shared() -> Path:
    return Path(os.environ[SHARED_ENV])


def start() -> None:
    """Start the trainings in the background, into ``shared()``, unless this or another worker has."""
    base = shared()
    base.mkdir(parents=True, exist_ok=True)
    with open(base / "start.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if (base / "pid").is_file():
            return
        with open(base / "train.log", "w") as log:
            proc = subprocess.Popen([sys.executable, __file__, str(base)], cwd=Path(__file__).parents[1], stdout=log,
                                    stderr=subprocess.STDOUT, start_new_session=True)
        (base / "pid").write_text(str(proc.pid))
        _STARTED.append(proc)


def stop() -> None:
    """End the background process if still running: the controlling process, as the whole run ends."""
    pid_file = shared() / "pid"
    if not pid_file.is_file():
        return
    pid = int(pid_file.read_text())
    try:
        os.killpg(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    for proc in _STARTED:
        proc.wait()


def wait_for(name: str) -> dict:
    """The run ``name`` (RUNS), waited for (the trainings start now if they have not):
    {"ws", "run", "dataset", "metrics", ...}. Tests may add files to its workspace (evaluations,
    label issues, advice, dataset versions); none changes the run or the dataset's v1."""
    import yolov11

    start()
    base = shared()
    result = base / f"{name}.json"
    deadline = time.monotonic() + TIMEOUT_S
    while not result.is_file():
        ended = (base / "failed").is_file() or any(proc.poll() is not None for proc in _STARTED)
        if ended and not result.is_file():
            raise RuntimeError(f"the background trainings failed: {(base / 'train.log').read_text()[-3000:]}")
        if time.monotonic() > deadline:
            raise RuntimeError(f"the {name} run did not finish in {TIMEOUT_S} s")
        time.sleep(1)
    return {**json.loads(result.read_text()), "ws": yolov11.Workspace.at(base / "ws")}


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).parent))
    out = Path(sys.argv[1])
    try:
        for name, train in (("corrupted", _corrupted), ("starved", _starved)):
            done = train(out)
            (out / f"{name}.json.part").write_text(json.dumps(done))
            (out / f"{name}.json.part").rename(out / f"{name}.json")  # whole or absent: a waiting test never reads half of it
    except BaseException:
        (out / "failed").touch()  # the workers that did not start this process see it end
        raise
