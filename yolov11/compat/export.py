"""What export and its verification rely on beyond ``YOLO(...).export()`` / ``.val()``.

Relies on: the "args" entry of the metadata Ultralytics writes into an ONNX file (a Python
dict literal whose "dynamic" key tells its loader whether to letterbox to minimal rectangles),
``utils.nms.non_max_suppression(prediction, conf, iou)`` (a list of (n, 6) tensors: x1 y1 x2 y2
score class), and ``data.utils.check_det_dataset`` for a dataset's split entries.
"""

from __future__ import annotations

import ast
from pathlib import Path


def mark_not_dynamic(onnx_model) -> None:
    """Tell Ultralytics' loader an ONNX model is not fully dynamic (its "args" metadata)."""
    args = next((p for p in onnx_model.metadata_props if p.key == "args"), None)
    if args is not None:
        args.value = str({**ast.literal_eval(args.value), "dynamic": False})


def nms(prediction, conf: float, iou: float):
    """Ultralytics' NMS of one raw (1, 4 + nc, anchors) output: an (n, 6) array."""
    from ultralytics.utils.nms import non_max_suppression

    return non_max_suppression(prediction, conf, iou)[0].numpy()


def split_entries(data_yaml: Path, split: str) -> list[Path]:
    """The folders or list files a data.yaml gives for ``split``, resolved as Ultralytics does."""
    from ultralytics.data.utils import check_det_dataset

    entries = check_det_dataset(str(data_yaml), autodownload=False).get(split) or []
    return [Path(e) for e in (entries if isinstance(entries, list) else [entries])]
