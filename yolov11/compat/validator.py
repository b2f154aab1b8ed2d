"""Ultralytics' detection validator, made to keep what it saw image by image, and the parts of
its DetMetrics our views read.

Relies on: ``DetectionValidator`` (``init_metrics``, ``update_metrics(preds, batch)``, the
private ``_prepare_batch(si, batch)`` with keys bboxes/cls/imgsz/ori_shape/ratio_pad/im_file,
``scale_preds``), ``utils.ops.scale_boxes``; on the returned DetMetrics: ``box.px``,
``box.ap_class_index``, ``box.ap50``, ``box.prec_values``, ``box.f1_curve``, ``box.p_curve``,
``box.r_curve``, ``confusion_matrix.matrix``, ``names``, ``summary()``, ``results_dict``,
``speed``, ``save_dir``. The confusion matrix's thresholds as eval/evaluate.py states them:
the validator's ``conf`` (0.001 for val) and ``ConfusionMatrix.process_batch``'s ``iou_thres``
default (0.45; tests/test_numbers_agree.py checks it against the installed Ultralytics).
"""

from __future__ import annotations

import numpy as np


def recording_validator():
    """The DetectionValidator subclass that also fills ``self.records``: one dict per image with
    ``file``, ``width``, ``height``, ``gt_cls`` (n,), ``gt_xyxy`` (n, 4), ``cls`` (m,), ``conf``
    (m,), ``xyxy`` (m, 4); boxes in original image pixels, predictions as NMS left them (conf >=
    the validator's conf, at most max_det). Built on call: Ultralytics is imported after
    offline.prepare()."""
    from ultralytics.models.yolo.detect import DetectionValidator
    from ultralytics.utils import ops

    class RecordingValidator(DetectionValidator):
        def init_metrics(self, model):
            super().init_metrics(model)
            self.records = []

        def update_metrics(self, preds, batch):
            super().update_metrics(preds, batch)
            for si, pred in enumerate(preds):
                pbatch = self._prepare_batch(si, batch)
                gt = pbatch["bboxes"]
                if len(gt):
                    gt = ops.scale_boxes(pbatch["imgsz"], gt.clone(), pbatch["ori_shape"], ratio_pad=pbatch["ratio_pad"])
                h, w = (int(v) for v in pbatch["ori_shape"])
                self.records.append({
                    "file": pbatch["im_file"], "width": w, "height": h,
                    "gt_cls": pbatch["cls"].cpu().numpy().astype(int), "gt_xyxy": gt.reshape(-1, 4).cpu().numpy(),
                    "cls": pred["cls"].cpu().numpy().astype(int), "conf": pred["conf"].cpu().numpy(),
                    "xyxy": self.scale_preds(pred, pbatch)["bboxes"].cpu().numpy(),
                })

    return RecordingValidator


def curves(m, points: int) -> dict:
    """Ultralytics' curves, one row per class that has labels, thinned to ``points``."""
    box = m.box
    keep = np.linspace(0, len(box.px) - 1, points).round().astype(int)
    row = lambda a: [[round(float(v), 5) for v in r[keep]] for r in np.asarray(a).reshape(-1, len(box.px))]  # noqa: E731
    classes = [m.names[c] for c in box.ap_class_index]
    return {
        "x": [round(float(v), 5) for v in np.asarray(box.px)[keep]],
        "classes": classes,
        "ap50": [round(float(v), 5) for v in box.ap50] if classes else [],
        "precision_recall": row(box.prec_values) if classes else [],  # precision at recall x, IoU 0.5
        "f1_confidence": row(box.f1_curve) if classes else [],
        "precision_confidence": row(box.p_curve) if classes else [],
        "recall_confidence": row(box.r_curve) if classes else [],
    }


def per_class(m) -> list[dict]:
    """Ultralytics' per-class table (``summary()``) in our names."""
    return [
        {
            "class": row["Class"],
            "images": int(row["Images"]),
            "instances": int(row["Instances"]),
            "precision": row["Box-P"],
            "recall": row["Box-R"],
            "mAP50": row["mAP50"],
            "mAP50-95": row["mAP50-95"],
        }
        for row in m.summary()
    ]


def confusion_counts(m) -> list[list[int]]:
    """The confusion matrix: rows predicted class, columns true class, background last."""
    return m.confusion_matrix.matrix.astype(int).tolist()
