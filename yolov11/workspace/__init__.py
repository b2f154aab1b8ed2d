"""Where datasets, runs and exports live on disk (``paths``: the root and scratch names), the SQLite
registry that indexes them (``registry``: ``Workspace``) and the repair after a crash (``recovery``).

Layout (DESIGN.md)::

    <workspace>/
      datasets/<name>/   images/{train,val}, labels/{train,val}, data.yaml, report.json
      runs/<run-id>/     Ultralytics save dir (weights/, results.csv, ...) + events.jsonl + run.json
      exports/<run-id>/  exported models
      predictions/       annotated images of predict calls
      previews/          dataset gallery images and augmentation grids (derived, safe to delete)
      published/<name>/  models published to the app's /demo page (weights copy + model.json)
      registry.sqlite    datasets and runs tables (WAL, one short connection per call, so
                         threads and processes can share it)
      .owners/           heartbeats of the processes that own runs (yolov11.liveness)

``reconcile()`` (run when the app or a CLI command starts) repairs what a dead process left:
runs still ``queued``/``running`` whose owner is gone become ``interrupted`` (resumable) or
``failed`` (no checkpoint yet), scratch folders of dead imports are removed, and a dataset
folder that was renamed into place but not registered is registered from its report.json.
"""

from yolov11.workspace.paths import default_root
from yolov11.workspace.registry import RUN_STATES, VERSION_MARK, Workspace, best_weights, split_version

__all__ = ["RUN_STATES", "VERSION_MARK", "Workspace", "best_weights", "default_root", "split_version"]
