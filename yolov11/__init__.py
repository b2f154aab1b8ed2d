"""yolov11 workbench core: import datasets, train, evaluate, export and predict YOLO detectors.

Importing it touches no network: each function that uses Ultralytics calls
``yolov11.compat.offline.prepare()`` before importing it. The packages say what they hold: ``data``
(import and health), ``nn`` (our modules), ``training``, ``eval``, ``export``, ``serve``
(predict, publish); the public functions below are the API. Every public function takes an optional ``workspace`` (a path or a ``Workspace``);
by default the one of ``YOLOV11_WORKSPACE`` or ``./workspace``.

    >>> import yolov11
    >>> ds = yolov11.import_dataset("hardhats.zip")
    >>> run = yolov11.train(ds["name"], model="yolov11n", epochs=10, imgsz=320)
    >>> yolov11.evaluate(run=run["run"])["metrics"]
"""

from yolov11.checkpoints import trust as trust_weights
from yolov11.data.demo import ensure_demo_dataset
from yolov11.data.importer import import_dataset
from yolov11.errors import UserError
from yolov11.eval.error_gallery import worst_images
from yolov11.eval.evaluate import coco_evaluate, evaluate, evaluation_curves, saved_evaluation
from yolov11.eval.thresholds import explore_thresholds
from yolov11.export.exporter import export_model
from yolov11.models import list_models
from yolov11.serve.predict import predict
from yolov11.serve.publish import publish, published
from yolov11.training.distributed import Launch
from yolov11.training.distributed import plan as torchrun_plan
from yolov11.training.resume import resume
from yolov11.training.runner import train
from yolov11.training.status import run_status
from yolov11.workspace import Workspace

__version__ = "0.1.0"
__all__ = [
    "Launch",
    "UserError",
    "Workspace",
    "coco_evaluate",
    "ensure_demo_dataset",
    "evaluate",
    "evaluation_curves",
    "explore_thresholds",
    "export_model",
    "import_dataset",
    "list_models",
    "predict",
    "publish",
    "published",
    "resume",
    "run_status",
    "saved_evaluation",
    "torchrun_plan",
    "train",
    "trust_weights",
    "worst_images",
]
