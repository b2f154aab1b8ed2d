"""Ultralytics' ByteTrack, fed detections of our own (a video predicted tile by tile, or in one pass).

Relies on: ``trackers.byte_tracker.BYTETracker(args)`` and its ``update(boxes, img)``, which takes
numpy-backed ``engine.results.Boxes`` and returns rows ``[x1, y1, x2, y2, track_id, score, cls,
idx]``; the tracker's settings file ``cfg/trackers/bytetrack.yaml`` read as ``trackers.track``
reads it (``check_yaml`` finds it in the package: nothing is downloaded). This is what
``YOLO.track(persist=True)`` does after each prediction, done here so that the detections given
to the tracker may be merged from several tiles first.
"""

from __future__ import annotations

import numpy as np

SETTINGS = "bytetrack.yaml"  # shipped in Ultralytics' package


def byte_tracker():
    """A fresh ByteTrack tracker with Ultralytics' default settings: one per video."""
    from ultralytics.trackers.byte_tracker import BYTETracker
    from ultralytics.utils import YAML, IterableSimpleNamespace
    from ultralytics.utils.checks import check_yaml

    return BYTETracker(args=IterableSimpleNamespace(**YAML.load(check_yaml(SETTINGS))))


def update(tracker, image: np.ndarray, xyxy: np.ndarray, scores: np.ndarray, classes: np.ndarray
           ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """One frame's detections (``image`` BGR) through ``tracker``: the tracked ones as (xyxy,
    track ids, scores, classes); a detection not (yet) in a track is left out, as YOLO.track does."""
    import torch
    from ultralytics.engine.results import Boxes

    table = np.concatenate([np.asarray(xyxy, np.float32).reshape(-1, 4), np.asarray(scores, np.float32).reshape(-1, 1),
                            np.asarray(classes, np.float32).reshape(-1, 1)], axis=1)
    rows = tracker.update(Boxes(torch.from_numpy(table), image.shape[:2]).cpu().numpy(), image)
    if not len(rows):
        return np.zeros((0, 4)), np.zeros(0, int), np.zeros(0), np.zeros(0, int)
    return rows[:, :4], rows[:, 4].astype(int), rows[:, 5], rows[:, 6].astype(int)
