"""Experiment trackers beside TensorBoard: MLflow for real (its file store, offline), and the
messages for a tracker that is unknown or not installed."""

from __future__ import annotations

import importlib.util
import os
import signal

import pytest

import yolov11
from yolov11.training.settings import TrainSettings


def test_unknown_or_missing_tracker_is_refused_before_training():
    assert (TrainSettings(loggers="neptune").problems()["loggers"]
            == "--loggers neptune: choose wandb, mlflow or both (TensorBoard is always on)")
    if importlib.util.find_spec("wandb") is not None:
        pytest.skip("wandb is installed here: the missing-package message cannot be shown")
    with pytest.raises(yolov11.UserError, match=r"--loggers wandb: the wandb package is not installed \(pip install wandb\)"):
        TrainSettings.of("yolov11n", loggers="wandb")


def test_mlflow_logs_params_and_metrics(tmp_path, tiny_zip, monkeypatch):
    # The test's name holds "test_mlflow": Ultralytics' MLflow callback skips other pytest tests.
    from mlflow.tracking import MlflowClient

    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    ws = yolov11.Workspace.at(tmp_path / "ws")
    data = yolov11.import_dataset(tiny_zip, workspace=ws)
    handler = signal.getsignal(signal.SIGTERM)
    try:
        r = yolov11.train(data["name"], "yolov11n", workspace=ws, epochs=2, imgsz=64, batch=8, loggers="mlflow")
        uri = os.environ["MLFLOW_TRACKING_URI"]
    finally:
        monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
        monkeypatch.delenv("MLFLOW_ALLOW_FILE_STORE", raising=False)
    assert r["status"] == "done"
    assert uri == (ws.root / "mlflow").as_uri()  # a file store in the workspace
    assert signal.getsignal(signal.SIGTERM) is handler  # only torchrun ranks take over SIGTERM
    client = MlflowClient(tracking_uri=uri)
    runs = [run for exp in client.search_experiments() for run in client.search_runs([exp.experiment_id])]
    assert [run.info.run_name for run in runs] == [r["run"]]
    logged = runs[0]
    assert logged.data.params["imgsz"] == "64"
    assert logged.data.params["epochs"] == "2"
    history = client.get_metric_history(logged.info.run_id, "metrics/mAP50-95B")
    assert [m.step for m in history][:2] == [0, 1]  # a point an epoch (Ultralytics adds the final validation)
    assert ws.require_run(r["run"])["settings"]["loggers"] == "mlflow"
    # Switched on for that run only: the next run's trainer has no MLflow callback.
    from ultralytics.utils import SETTINGS

    assert SETTINGS["mlflow"] is False
