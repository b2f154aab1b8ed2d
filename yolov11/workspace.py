"""Where datasets, runs and exports live on disk, and the SQLite registry that indexes them.

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
"""

from __future__ import annotations

import json
import os
import sqlite3
import time
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from yolov11.errors import UserError

_SCHEMA = """
CREATE TABLE IF NOT EXISTS datasets (
    name TEXT PRIMARY KEY, path TEXT NOT NULL, format TEXT, created REAL,
    images INTEGER, classes TEXT, splits TEXT);
CREATE TABLE IF NOT EXISTS runs (
    id TEXT PRIMARY KEY, dir TEXT NOT NULL, dataset TEXT, model TEXT, status TEXT,
    created REAL, updated REAL, settings TEXT, metrics TEXT, pid INTEGER);
"""
_JSON_FIELDS = ("classes", "splits", "settings", "metrics")
RUN_STATES = ("queued", "running", "done", "stopped", "failed", "interrupted")


def default_root() -> Path:
    """The process's workspace: ``YOLOV11_WORKSPACE``, else ``./workspace``."""
    return Path(os.environ.get("YOLOV11_WORKSPACE") or "workspace").expanduser().resolve()


def _row(cur: sqlite3.Cursor, row: tuple) -> dict[str, Any]:
    out = {d[0]: v for d, v in zip(cur.description, row)}
    for key in _JSON_FIELDS:
        if key in out and out[key] is not None:
            out[key] = json.loads(out[key])
    return out


@dataclass(frozen=True)
class Workspace:
    """A workspace folder; ``Workspace.at(None)`` is the process default."""

    root: Path

    @classmethod
    def at(cls, where: "Workspace | str | os.PathLike | None" = None) -> "Workspace":
        if isinstance(where, Workspace):
            return where
        if where is None:
            where = default_root()
        ws = cls(Path(where).expanduser().resolve())
        ws._init()
        return ws

    # --- folders -------------------------------------------------------------------------
    @property
    def datasets_dir(self) -> Path:
        return self.root / "datasets"

    @property
    def runs_dir(self) -> Path:
        return self.root / "runs"

    @property
    def exports_dir(self) -> Path:
        return self.root / "exports"

    @property
    def predictions_dir(self) -> Path:
        return self.root / "predictions"

    @property
    def previews_dir(self) -> Path:
        """Drawn samples and augmentation grids of datasets (safe to delete)."""
        return self.root / "previews"

    @property
    def published_dir(self) -> Path:
        """Models published to the app's /demo page (yolov11.publish), each a copy with its card."""
        return self.root / "published"

    def _init(self) -> None:
        for d in (self.datasets_dir, self.runs_dir, self.exports_dir, self.predictions_dir, self.previews_dir):
            d.mkdir(parents=True, exist_ok=True)
        with closing(self._connect()) as db, db:
            db.execute("PRAGMA journal_mode=WAL")
            db.executescript(_SCHEMA)

    def _connect(self) -> sqlite3.Connection:
        return sqlite3.connect(self.root / "registry.sqlite", timeout=30)

    def _query(self, sql: str, args: tuple = ()) -> list[dict[str, Any]]:
        with closing(self._connect()) as db:
            cur = db.execute(sql, args)
            return [_row(cur, r) for r in cur.fetchall()]

    def _write(self, sql: str, args: tuple = ()) -> None:
        with closing(self._connect()) as db, db:
            db.execute(sql, args)

    # --- datasets ------------------------------------------------------------------------
    def add_dataset(self, name: str, path: Path, fmt: str, images: int, classes: list[str], splits: dict) -> None:
        self._write(
            "INSERT OR REPLACE INTO datasets VALUES (?,?,?,?,?,?,?)",
            (name, str(path), fmt, time.time(), images, json.dumps(classes), json.dumps(splits)),
        )

    def datasets(self) -> list[dict[str, Any]]:
        return self._query("SELECT * FROM datasets ORDER BY created")

    def dataset(self, name: str) -> dict[str, Any] | None:
        rows = self._query("SELECT * FROM datasets WHERE name=?", (name,))
        return rows[0] if rows else None

    def resolve_data(self, data: str | os.PathLike) -> Path:
        """``--data``: a workspace dataset name or a data.yaml path -> the data.yaml path."""
        record = self.dataset(str(data))
        if record:
            return Path(record["path"]) / "data.yaml"
        path = Path(data).expanduser()
        if path.is_dir() and (path / "data.yaml").is_file():
            return (path / "data.yaml").resolve()
        if path.suffix in {".yaml", ".yml"} and path.is_file():
            return path.resolve()
        known = ", ".join(d["name"] for d in self.datasets()) or "none yet"
        raise UserError(f"--data {data}: not a dataset of workspace {self.root} (known: {known}) nor a data.yaml file")

    # --- runs ----------------------------------------------------------------------------
    def new_run_id(self, model: str) -> str:
        stem = Path(str(model)).stem.replace(" ", "_")
        base = time.strftime("%Y%m%d-%H%M%S") + f"-{stem}"
        run_id, n = base, 1
        while (self.runs_dir / run_id).exists():
            n += 1
            run_id = f"{base}-{n}"
        return run_id

    def add_run(self, run_id: str, dataset: str, model: str, settings: dict, status: str = "queued") -> Path:
        run_dir = self.runs_dir / run_id
        run_dir.mkdir(parents=True, exist_ok=True)
        now = time.time()
        self._write(
            "INSERT INTO runs VALUES (?,?,?,?,?,?,?,?,?,?)",
            (run_id, str(run_dir), dataset, model, status, now, now, json.dumps(settings), json.dumps({}), os.getpid()),
        )
        self._write_run_json(run_id)
        return run_dir

    def update_run(self, run_id: str, **fields: Any) -> None:
        if "status" in fields and fields["status"] not in RUN_STATES:
            raise ValueError(f"unknown run status {fields['status']!r}")
        fields["updated"] = time.time()
        cols = ", ".join(f"{k}=?" for k in fields)
        vals = tuple(json.dumps(v) if k in _JSON_FIELDS else v for k, v in fields.items())
        self._write(f"UPDATE runs SET {cols} WHERE id=?", (*vals, run_id))
        self._write_run_json(run_id)

    def _write_run_json(self, run_id: str) -> None:
        record = self.run(run_id)
        if record:
            (Path(record["dir"]) / "run.json").write_text(json.dumps(record, indent=2))

    def runs(self) -> list[dict[str, Any]]:
        return self._query("SELECT * FROM runs ORDER BY created DESC")

    def run(self, run_id: str) -> dict[str, Any] | None:
        rows = self._query("SELECT * FROM runs WHERE id=?", (run_id,))
        return rows[0] if rows else None

    def require_run(self, run_id: str) -> dict[str, Any]:
        record = self.run(run_id)
        if record is None:
            raise UserError(f"--run {run_id}: no such run in workspace {self.root}")
        return record

    def delete_run(self, run_id: str) -> None:
        """Remove a run: its folder, its exports and its registry row (refused while it trains)."""
        import shutil

        record = self.require_run(run_id)
        if record["status"] in ("running", "queued"):
            raise UserError(f"run {run_id} is {record['status']}: stop it before deleting")
        shutil.rmtree(record["dir"], ignore_errors=True)
        shutil.rmtree(self.exports_dir / run_id, ignore_errors=True)
        self._write("DELETE FROM runs WHERE id=?", (run_id,))

    def run_weights(self, run_id: str) -> Path:
        """best.pt of a run, else last.pt (a run stopped before its first save has neither)."""
        weights = Path(self.require_run(run_id)["dir"]) / "weights"
        for name in ("best.pt", "last.pt"):
            if (weights / name).is_file():
                return weights / name
        raise UserError(f"run {run_id}: no weights in {weights} yet (did training finish an epoch?)")
