"""What each rank of a run trained by several processes records: ``<run>/ranks/<rank>.json``.

Every rank (rank 0 included) writes its own file when training starts and again after each
epoch's last batch: its pid, the world it trains in, what it reads of an epoch (images, batch
size, batches) and a checksum of the model's parameters. Equal checksums after an epoch show the
ranks trained one model together (DistributedDataParallel averaged their gradients); the pid is
what an operator (or a test) signals. Only written when the world has more than one rank.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from yolov11.compat.trainer import TrainerView
from yolov11.training import distributed

RANKS_DIR = "ranks"


def record(t: TrainerView, epoch: int | None = None) -> None:
    """Write this rank's file; ``epoch`` (counted from 1) after that epoch's last batch, None at start."""
    if distributed.world() < 2:
        return
    rank = distributed.rank()
    folder = t.weights_dir.parent / RANKS_DIR
    folder.mkdir(parents=True, exist_ok=True)
    body = {"rank": rank, "world_size": distributed.world(), "pid": os.getpid(), "ddp": t.ddp, "epoch": epoch, **t.rank_share()}
    if epoch is not None:
        body["checksum"] = t.weights_checksum()
    tmp = folder / f".{rank}.json.partial"
    tmp.write_text(json.dumps(body))
    os.replace(tmp, folder / f"{rank}.json")


def read(run_dir: Path) -> list[dict]:
    """Every rank's last record, by rank."""
    folder = Path(run_dir) / RANKS_DIR
    files = sorted(folder.glob("*.json"), key=lambda p: int(p.stem)) if folder.is_dir() else []
    return [json.loads(p.read_text()) for p in files]
