"""Evaluation: Ultralytics' own validator numbers plus per-image records (``evaluate``,
``records``), the 12 COCO numbers (``coco_metrics``), the threshold explorer (``thresholds``)
and the worst-image gallery (``error_gallery``), all from one saved evaluation folder."""
