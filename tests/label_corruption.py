"""Seeded label corruptions of a YOLO folder, for the label-issues tests: about 10 % of the boxes
removed, 10 % given another class and 10 % shifted by half their size, each one recorded; and the
quick-preset run on the corrupted demo set (conftest's session fixture ``corrupted_run``, shared by
tests/test_label_issues.py and the browser test of fixing a label, tests/e2e/test_label_issue_fix.py)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
from PIL import Image

from yolov11.boxes import cxcywh_to_xyxy

KIND_OF = {"removed": "missing", "swapped": "wrong_class", "shifted": "badly_located"}  # the issue each should raise


def corrupt(folder: Path, n_classes: int, seed: int = 0, share: float = 0.1) -> list[dict]:
    """Rewrite folder/labels/*/*.txt in place; returns [{"split", "image" (images/<split>/<file>),
    "corruption", "class", "true_class", "box" (the true box, pixels), "label_box" (as now labelled, pixels or None)}]."""
    rng = np.random.default_rng(seed)
    done = []
    for label_file in sorted((folder / "labels").glob("*/*.txt")):
        split = label_file.parent.name
        image = next(p for p in (folder / "images" / split).glob(label_file.stem + ".*"))
        width, height = Image.open(image).size
        kept = []
        for line in label_file.read_text().split("\n"):
            if not line.strip():
                continue
            c, cx, cy, w, h = line.split()
            c, cx, cy, w, h = int(c), float(cx), float(cy), float(w), float(h)
            true_box = cxcywh_to_xyxy(cx, cy, w, h, width, height)
            u = rng.random()
            record = {"split": split, "image": f"images/{split}/{image.name}", "true_class": c, "box": true_box}
            if u < share:
                done.append({**record, "corruption": "removed", "class": None, "label_box": None})
                continue
            if u < 2 * share:
                c = int(rng.choice([k for k in range(n_classes) if k != c]))
                done.append({**record, "corruption": "swapped", "class": c, "label_box": true_box})
            elif u < 3 * share:
                moves = [(dx, dy) for dx, dy in ((w / 2, 0), (-w / 2, 0), (0, h / 2), (0, -h / 2))
                         if w / 2 <= cx + dx <= 1 - w / 2 and h / 2 <= cy + dy <= 1 - h / 2]
                if moves:
                    dx, dy = moves[int(rng.integers(len(moves)))]
                    cx, cy = cx + dx, cy + dy
                    done.append({**record, "corruption": "shifted", "class": c, "label_box": cxcywh_to_xyxy(cx, cy, w, h, width, height)})
            kept.append(f"{c} {cx:.6f} {cy:.6f} {w:.6f} {h:.6f}")
        label_file.write_text("".join(f"{line}\n" for line in kept))
    return done



# The quick-preset run takes minutes of one core (Ultralytics trains on the CPU with
# cpu_count - 1 torch threads and no data-loading workers: one thread on 2 cores, so the
# suite's other trainings leave the second core idle). It starts at the beginning of the
# session in a process of its own (tests/conftest.py) and is waited for when first used.
TIMEOUT_S = 1800  # 3-5 min alone on 2 idle cores; generous for a machine 4x busier
_STARTED: list = []  # [(Popen, base folder)] once started


def _train(base: Path) -> None:
    """The demo set (300 images at 320 px, seed 0) with corruptions of seed 0, trained with the
    quick-look preset (the defaults: 12 epochs at 320 px); what the tests need in base/result.json."""
    import yolov11
    from yolov11.data.demo import CLASSES, write_demo

    ws = yolov11.Workspace.at(base / "ws")
    write_demo(base / "demo-corrupted", n_images=300, size=320, seed=0)
    corruptions = corrupt(base / "demo-corrupted", len(CLASSES), seed=0)
    data = yolov11.import_dataset(base / "demo-corrupted", workspace=ws)
    r = yolov11.train(data["name"], "yolov11n", workspace=ws, workers=0)
    if r["status"] != "done":
        raise SystemExit(f"the corrupted demo run ended {r['status']}: {r.get('metrics')}")
    doc = {"run": r["run"], "corruptions": corruptions, "dataset": data["name"], "metrics": r["metrics"]}
    (base / "result.json").write_text(json.dumps(doc))


def start(base: Path) -> None:
    """Start training the corrupted demo run in the background, into ``base``."""
    if not _STARTED:
        with open(base / "train.log", "w") as log:
            proc = subprocess.Popen([sys.executable, __file__, str(base)], cwd=Path(__file__).parents[1], stdout=log,
                                    stderr=subprocess.STDOUT)
        _STARTED.append((proc, base))


def stop() -> None:
    """End a background training still running (a session that ends early)."""
    for proc, _ in _STARTED:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def corrupted_demo_run(tmp_path_factory) -> dict:
    """The corrupted demo run, waited for (started now if it was not): {"ws", "run",
    "corruptions", "dataset", "metrics"}. Tests may add files to its workspace (evaluations,
    label issues, dataset versions); none changes the run or the dataset's v1."""
    import yolov11

    if not _STARTED:  # not started with the session (conftest starts it when a test needs it)
        start(tmp_path_factory.mktemp("corrupted"))
    proc, base = _STARTED[0]
    try:
        code = proc.wait(timeout=TIMEOUT_S)
    except subprocess.TimeoutExpired:
        stop()
        raise RuntimeError(f"the corrupted demo run did not finish in {TIMEOUT_S} s") from None
    if code != 0:
        raise RuntimeError(f"the corrupted demo run failed (exit {code}): {(base / 'train.log').read_text()[-3000:]}")
    return {**json.loads((base / "result.json").read_text()), "ws": yolov11.Workspace.at(base / "ws")}


if __name__ == "__main__":
    _train(Path(sys.argv[1]))
