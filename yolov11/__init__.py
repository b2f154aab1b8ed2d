"""yolov11 workbench core: import datasets, train, evaluate, export and predict YOLO detectors.

Importing it touches no network: each function that uses Ultralytics calls
``yolov11.compat.offline.prepare()`` before importing it. The packages say what they hold: ``data``
(import and health), ``nn`` (our modules), ``training``, ``eval``, ``export``, ``serve``
(predict, publish); the public functions below are the API. Every public function takes an
optional ``workspace`` (a path or a ``Workspace``); by default the one of ``YOLOV11_WORKSPACE``
or ``./workspace``.

    >>> import yolov11
    >>> ds = yolov11.import_dataset("hardhats.zip")
    >>> run = yolov11.train(ds["name"], model="yolov11n", epochs=10, imgsz=320)
    >>> yolov11.evaluate(run=run["run"])["metrics"]
"""

from yolov11.advice.advisor import KINDS as ADVICE_KINDS
from yolov11.advice.advisor import advise, saved_advice
from yolov11.advice.outcome import advice_outcome, saved_outcome
from yolov11.checkpoints import trust as trust_weights
from yolov11.codegen.notebook import write_notebook
from yolov11.codegen.snippets import python_call, shell_command
from yolov11.data.demo import ensure_demo_dataset
from yolov11.data.importer import import_dataset
from yolov11.data.pool import pool_add, pool_items
from yolov11.data.pool_accept import pool_accept, pool_reject
from yolov11.data.pool_queue import pool_queue
from yolov11.data.pool_review import pool_add_reviewed, pool_draft, pool_review
from yolov11.data.prelabel import prelabel
from yolov11.data.preview import augmentation_preview, draw_pairs, draw_samples
from yolov11.data.report import summarize as summarize_report
from yolov11.data.resplit import resplit_dataset
from yolov11.data.stats import dataset_boxes, images_with
from yolov11.data.tiles import tile_dataset
from yolov11.data.versions import dataset_versions, edit_labels, image_labels
from yolov11.errors import UserError
from yolov11.eval.comparable import same_ground_truth
from yolov11.eval.error_gallery import CRITERIA as GALLERY_CRITERIA
from yolov11.eval.error_gallery import LEGEND as GALLERY_LEGEND
from yolov11.eval.error_gallery import worst_images
from yolov11.eval.evaluate import coco_evaluate, evaluate, evaluation_curves, saved_evaluation, saved_evaluation_on
from yolov11.eval.label_folds import estimate as label_issues_estimate
from yolov11.eval.label_issues import KINDS as LABEL_ISSUE_KINDS
from yolov11.eval.label_issues import label_issues, saved_label_issues
from yolov11.eval.label_issues_draw import draw_label_issues
from yolov11.eval.thresholds import explore_thresholds, threshold_confusion
from yolov11.eval.tiled_compare import tiled_comparison
from yolov11.export.exporter import export_model
from yolov11.export.formats import FORMATS as EXPORT_FORMATS
from yolov11.export.quantize import int8_summary
from yolov11.export.verify import detections_verdict, latency_notes
from yolov11.models import check_model_yaml, list_models, measure_latency, model_card, transfer_report, zoo_names
from yolov11.models import describe as describe_model
from yolov11.serve.predict import predict
from yolov11.serve.publish import publish, published
from yolov11.serve.sliced import Slicing
from yolov11.serve.video import VIDEO_SUFFIXES, predict_video
from yolov11.serve.video_file import probe as probe_video
from yolov11.training.distributed import Launch, gpu_ids
from yolov11.training.distributed import plan as torchrun_plan
from yolov11.training.jobs import TrainingJobs
from yolov11.training.request import TrainRequest
from yolov11.training.resume import resume
from yolov11.training.runner import train
from yolov11.training.settings import PRESETS, TrainSettings
from yolov11.training.settings import describe_field as describe_setting
from yolov11.training.settings import run_keywords as run_train_kwargs
from yolov11.training.status import run_status
from yolov11.workspace import Workspace

__version__ = "0.1.0"
__all__ = [
    "EXPORT_FORMATS",
    "GALLERY_CRITERIA",
    "GALLERY_LEGEND",
    "LABEL_ISSUE_KINDS",
    "Launch",
    "PRESETS",
    "TrainRequest",
    "TrainingJobs",
    "TrainSettings",
    "UserError",
    "VIDEO_SUFFIXES",
    "Workspace",
    "augmentation_preview",
    "check_model_yaml",
    "coco_evaluate",
    "dataset_versions",
    "dataset_boxes",
    "describe_model",
    "describe_setting",
    "draw_label_issues",
    "detections_verdict",
    "draw_pairs",
    "draw_samples",
    "edit_labels",
    "ensure_demo_dataset",
    "evaluate",
    "evaluation_curves",
    "explore_thresholds",
    "export_model",
    "gpu_ids",
    "image_labels",
    "images_with",
    "import_dataset",
    "int8_summary",
    "label_issues",
    "label_issues_estimate",
    "latency_notes",
    "list_models",
    "measure_latency",
    "model_card",
    "pool_accept",
    "pool_add",
    "pool_add_reviewed",
    "pool_draft",
    "pool_items",
    "pool_queue",
    "pool_reject",
    "pool_review",
    "prelabel",
    "predict",
    "predict_video",
    "probe_video",
    "publish",
    "python_call",
    "published",
    "resplit_dataset",
    "resume",
    "run_status",
    "run_train_kwargs",
    "Slicing",
    "same_ground_truth",
    "advise",
    "saved_advice",
    "advice_outcome",
    "saved_outcome",
    "ADVICE_KINDS",
    "tiled_comparison",
    "saved_evaluation",
    "saved_evaluation_on",
    "saved_label_issues",
    "shell_command",
    "summarize_report",
    "threshold_confusion",
    "tile_dataset",
    "torchrun_plan",
    "train",
    "transfer_report",
    "trust_weights",
    "worst_images",
    "write_notebook",
    "zoo_names",
]
