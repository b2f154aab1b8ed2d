"""The fence: every place this project leans on Ultralytics beyond its public API.

The rest of the code uses ``ultralytics.YOLO`` and what it returns, and otherwise only calls
functions of this package; a test fails when a module outside it imports an Ultralytics
submodule. When Ultralytics is upgraded, this folder is the checklist: each module names, per
function, the internals it relies on.

    offline      module globals patched at start: ONLINE/AUTOINSTALL flags, SETTINGS, check_amp,
                 check_det_dataset's autodownload (trainer, validator, exporter)
    registry     tasks.parse_model wrapped, tasks' globals as the module namespace of YAML rows
    graph        tasks.DetectionModel, yaml_model_load, parse_model on the meta device,
                 _SafeLoad.activation, torch_utils.get_flops / intersect_dicts, the graph YAML's backbone
    checkpoints  tasks.torch_safe_load patched, _SafeLoad.SUPPORTED and its allowlist
    results      the metric and loss keys of Ultralytics' result dicts, and our short names;
                 Results(...).plot for boxes of our own, a predictor's imgsz
    trainer      DetectionTrainer and the attributes our callbacks read (tloss, label_loss_items,
                 epoch_time_start, train_loader, wdir, last, best, world_size, stop, metrics);
                 cfg/default.yaml as the list of train arguments (an ``extra`` key must be one)
    validator    DetectionValidator._prepare_batch / scale_preds, DetMetrics' curves and confusion matrix
    plotting     Annotator, colors, plot_images; build_yolo_dataset and get_cfg/check_imgsz as
                 BaseTrainer._setup_train calls them (the augmentation preview)
    export       the "args" metadata entry of Ultralytics' ONNX files, utils.nms.non_max_suppression,
                 the dataset splits of check_det_dataset
    layers       the Ultralytics layers our modules build on (Conv, Detect)
    trackers     SETTINGS keys of the W&B / MLflow integrations
    tracking     trackers.byte_tracker.BYTETracker and its settings file, fed our own detections
"""

from __future__ import annotations

TESTED_ULTRALYTICS = ("8.4.190",)  # what every module here was written against


def check_version() -> None:
    """Refuse an Ultralytics release this fence was not written for (its internals differ)."""
    import ultralytics

    if ultralytics.__version__ not in TESTED_ULTRALYTICS:
        raise RuntimeError(
            f"yolov11 was written against Ultralytics {', '.join(TESTED_ULTRALYTICS)}, found {ultralytics.__version__}: "
            "install the pinned version (pip install -r requirements.txt)"
        )
