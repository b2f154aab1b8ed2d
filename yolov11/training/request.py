"""A training request, checked once before a run is registered.

``train()`` (the API and the CLI) and ``TrainingJobs.submit`` (the app's queue) both start by
building a ``TrainRequest``: the settings validated (``TrainSettings.of``), the dataset and the
model checked, and the starting weights opened once to count the tensors that transfer. The
runner and the queue take the request as it is and never check it again.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from yolov11.compat import offline
from yolov11.compat import trainer as trainer_compat
from yolov11.data.class_names import class_names
from yolov11.errors import UserError, plain
from yolov11.models import check_model, transfer_report
from yolov11.training import distributed
from yolov11.training.distributed import Launch
from yolov11.training.settings import TrainSettings
from yolov11.workspace import Workspace


def check_dataset(data_yaml: Path, data: str) -> None:
    """Refuse, before a run is registered, a data.yaml whose image folders Ultralytics cannot
    find (its ``download:`` is never run: offline.py)."""
    offline.prepare()
    try:
        trainer_compat.check_dataset(data_yaml)
    except Exception as exc:  # Ultralytics says what is missing in its own words
        raise UserError(field="--data", value=data, detail=f"{plain(exc)}") from None


@dataclass(frozen=True)
class TrainRequest:
    """What a run is started from, every part checked: ``data`` as given (a workspace dataset name
    or a data.yaml path) and its ``data_yaml``; ``dataset``, what the run records (the name, else
    the data.yaml path); ``model`` as given and ``model_src``, what Ultralytics builds; ``cfg``,
    the validated settings; ``settings``, the keywords as given (torchrun's ranks are launched
    with them); ``transfer``, ``transfer_report`` of the starting weights (None without weights,
    or when the ranks report it themselves)."""

    ws: Workspace
    data: str
    data_yaml: Path
    dataset: str
    model: str
    model_src: str
    cfg: TrainSettings
    settings: dict[str, Any]
    transfer: dict | None

    @classmethod
    def check(cls, data: str | Path, model: str, settings: dict[str, Any], workspace: Workspace | str | Path | None = None,
              launch: Launch | None = None, with_transfer: bool | None = None) -> "TrainRequest":
        """Validate everything a run needs, in the order a person fixes it (the settings, the
        dataset, the model, the starting weights); UserError naming the first thing at fault.
        ``with_transfer``: count the starting weights' tensors that transfer (default: unless this
        process launches torchrun's ranks, which report it themselves)."""
        offline.prepare()
        ws = Workspace.at(workspace)
        cfg = TrainSettings.of(str(model), **settings)
        data_yaml = ws.resolve_data(data)
        registered = ws.dataset(str(data)) is not None
        if not registered:
            check_dataset(data_yaml, str(data))  # a data.yaml from elsewhere: its images must exist
        model_src = check_model(model)  # a broken YAML or a refused .pt fails here, before a run is registered
        if with_transfer is None:
            with_transfer = not launches(cfg.device, launch)
        transfer = transfer_report(str(model), cfg.weights, len(class_names(data_yaml))) if cfg.weights and with_transfer else None
        return cls(
            ws, str(data), data_yaml, str(data) if registered else str(data_yaml), str(model), model_src, cfg, dict(settings), transfer
        )


def launches(device: str, launch: Launch | None) -> bool:
    """Whether a run on ``device`` (normalised) makes this process launch torchrun's ranks."""
    return not distributed.in_torchrun() and (launch is not None or len(distributed.gpu_ids(device)) > 1)
