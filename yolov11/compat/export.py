"""What export and its verification rely on beyond ``YOLO(...).export()`` / ``.val()``.

Relies on: the "args" entry of the metadata Ultralytics writes into an ONNX file (a Python
dict literal whose "dynamic" key tells its loader whether to letterbox to minimal rectangles),
``utils.nms.non_max_suppression(prediction, conf, iou)`` (a list of (n, 6) tensors: x1 y1 x2 y2
score class; ``multi_label=True`` and ``max_det`` as its validator calls it),
``data.utils.check_det_dataset`` for a dataset's split entries, ``utils.metrics.ap_per_class``
(its sixth return value: AP per class at IoU 0.50:0.05:0.95) and
``engine.validator.BaseValidator.match_predictions`` (the validator's greedy matching, reading only
``self.iouv``) to score an exported model's raw outputs as the validator would, and the
``args.dynamic`` entry of the ``metadata.yaml`` its OpenVINO export writes, and that
``nn/backends/openvino.py`` builds its compile call with the module-level name ``partial``
(``partial(core.compile_model, device_name=..., config={...})``).
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


def val_nms(prediction, conf: float = 0.001, iou: float = 0.7, max_det: int = 300):
    """Ultralytics' NMS as its validator runs it (a box may count for several classes): (n, 6) array."""
    from ultralytics.utils.nms import non_max_suppression

    return non_max_suppression(prediction, conf, iou, multi_label=True, max_det=max_det)[0].numpy()


def map50_95(detections: list, labels: list) -> float:
    """mAP50-95 the way Ultralytics' validator computes it, from per-image (n, 6) x1 y1 x2 y2 score
    class detections (after ``val_nms``) and (m, 5) class x1 y1 x2 y2 labels in the same pixels."""
    import numpy as np
    import torch
    from ultralytics.engine.validator import BaseValidator
    from ultralytics.utils.metrics import ap_per_class, box_iou

    class _Matcher:
        iouv = torch.linspace(0.5, 0.95, 10)

    tps, confs, pred_cls, target_cls = [], [], [], []
    for det, lab in zip(detections, labels):
        det, lab = np.asarray(det, np.float32).reshape(-1, 6), np.asarray(lab, np.float32).reshape(-1, 5)
        target_cls.append(lab[:, 0])
        if not len(det):
            continue
        if len(lab):
            iou = box_iou(torch.from_numpy(lab[:, 1:]), torch.from_numpy(det[:, :4]))
            tp = BaseValidator.match_predictions(_Matcher(), torch.from_numpy(det[:, 5]), torch.from_numpy(lab[:, 0]), iou).numpy()
        else:
            tp = np.zeros((len(det), 10), bool)
        tps.append(tp)
        confs.append(det[:, 4])
        pred_cls.append(det[:, 5])
    targets = np.concatenate(target_cls) if target_cls else np.zeros(0)
    if not tps or not len(targets):
        return 0.0
    ap = ap_per_class(np.concatenate(tps), np.concatenate(confs), np.concatenate(pred_cls), targets)[5]
    return float(ap.mean()) if len(ap) else 0.0


def openvino_not_dynamic(folder: Path) -> None:
    """Tell Ultralytics' loader an OpenVINO IR folder is not fully dynamic (its metadata.yaml "args")."""
    from ultralytics.utils import YAML

    meta = YAML.load(folder / "metadata.yaml")
    meta["args"] = {**(meta.get("args") or {}), "dynamic": False}
    YAML.save(folder / "metadata.yaml", meta)


def openvino_at_f32() -> None:
    """Ultralytics' OpenVINO backend compiles with the CPU plugin's default precision, which is
    bf16 on CPUs that have it (AVX512_BF16, AMX): its predictions and its val would then differ
    from the f32 an export is verified at and infer.py runs (on this CI's EPYC: 29 boxes instead of
    30, mAP50-95 +0.0008). Its CPU compile calls get ``INFERENCE_PRECISION_HINT: f32``."""
    import functools

    from ultralytics.nn.backends import openvino as backend

    if getattr(backend.partial, "yolov11_f32", False):
        return

    def partial(func, *args, **kwargs):
        config = kwargs.get("config")
        if getattr(func, "__name__", "") == "compile_model" and kwargs.get("device_name") == "CPU" and isinstance(config, dict):
            kwargs["config"] = {"INFERENCE_PRECISION_HINT": "f32", **config}
        return functools.partial(func, *args, **kwargs)

    partial.yolov11_f32 = True
    backend.partial = partial


def split_entries(data_yaml: Path, split: str) -> list[Path]:
    """The folders or list files a data.yaml gives for ``split``, resolved as Ultralytics does."""
    from ultralytics.data.utils import check_det_dataset

    entries = check_det_dataset(str(data_yaml), autodownload=False).get(split) or []
    return [Path(e) for e in (entries if isinstance(entries, list) else [entries])]
