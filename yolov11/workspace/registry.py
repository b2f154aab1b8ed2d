"""The SQLite registry that indexes a workspace's datasets, runs and exports, and the
``Workspace`` handle that owns the folders (layout: ``yolov11.workspace``).

``registry.sqlite`` holds the datasets, runs and exports tables (WAL, one short connection per
call, so threads and processes can share it). ``reconcile()`` (run when the app or a CLI command
starts) repairs what a dead process left (``yolov11.workspace.recovery``).
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import sqlite3
import time
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from yolov11 import liveness
from yolov11.data.class_names import class_names
from yolov11.errors import UserError
from yolov11.workspace.paths import DELETING_PREFIX, default_root

LOG = logging.getLogger("yolov11")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS datasets (
    name TEXT PRIMARY KEY, path TEXT NOT NULL, format TEXT, created REAL,
    images INTEGER, classes TEXT, splits TEXT);
CREATE TABLE IF NOT EXISTS runs (
    id TEXT PRIMARY KEY, dir TEXT NOT NULL, dataset TEXT, model TEXT, status TEXT,
    created REAL, updated REAL, settings TEXT, metrics TEXT, pid INTEGER);
CREATE TABLE IF NOT EXISTS exports (
    run TEXT NOT NULL, path TEXT NOT NULL, format TEXT, options TEXT, summary TEXT, created REAL,
    PRIMARY KEY (run, path));
"""
# Columns added after the first release (table -> column -> type). datasets.origin: the import's
# source and options ({"src", "options"} or {"demo", "options"}), what a run's notebook reruns.
# datasets.base/version/parent/diff: a label edit's new version (yolov11.data.versions); rows
# written before them read as version 1 of their own name.
_MIGRATIONS = {
    "runs": {"owner": "TEXT", "world_size": "INTEGER", "ddp": "INTEGER"},  # ranks training together (set as training starts)
    "datasets": {"origin": "TEXT", "base": "TEXT", "version": "INTEGER", "parent": "TEXT", "diff": "TEXT"},
}
_JSON_FIELDS = ("classes", "splits", "settings", "metrics", "origin", "options", "diff")
VERSION_MARK = "@v"  # "<base>@v<N>": version N of dataset <base> (import names never hold "@")
RUN_STATES = ("queued", "running", "done", "stopped", "failed", "interrupted")



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

    @property
    def owners_dir(self) -> Path:
        """Heartbeats of processes that own runs (yolov11.liveness)."""
        return self.root / ".owners"

    def _init(self) -> None:
        try:
            for d in (self.datasets_dir, self.runs_dir, self.exports_dir, self.predictions_dir, self.previews_dir):
                d.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise UserError(f"workspace {self.root}: cannot create its folders ({exc.strerror})") from None
        try:
            with closing(self._connect()) as db, db:
                db.execute("PRAGMA journal_mode=WAL")
                db.executescript(_SCHEMA)
                for table, columns in _MIGRATIONS.items():
                    have = {row[1] for row in db.execute(f"PRAGMA table_info({table})")}
                    for column, kind in columns.items():
                        if column not in have:
                            db.execute(f"ALTER TABLE {table} ADD COLUMN {column} {kind}")
        except sqlite3.OperationalError as exc:
            if not self._readable():  # a full disk still lets an existing registry be read
                raise UserError(f"workspace registry {self.root / 'registry.sqlite'}: {exc}") from None

    def _readable(self) -> bool:
        try:
            return bool(self._query("SELECT name FROM sqlite_master WHERE name='runs'"))
        except UserError:
            return False

    def _connect(self, read_only: bool = False) -> sqlite3.Connection:
        path = self.root / "registry.sqlite"
        if read_only:  # no -wal/-shm files needed: what a full disk still allows
            return sqlite3.connect(f"{path.as_uri()}?immutable=1", uri=True, timeout=30)
        return sqlite3.connect(path, timeout=30)

    def _query(self, sql: str, args: tuple = ()) -> list[dict[str, Any]]:
        for read_only in (False, True):
            try:
                with closing(self._connect(read_only)) as db:
                    cur = db.execute(sql, args)
                    return [_row(cur, r) for r in cur.fetchall()]
            except sqlite3.OperationalError as exc:
                error = exc
        raise UserError(f"workspace registry {self.root / 'registry.sqlite'}: {error}")

    def _write(self, sql: str, args: tuple = ()) -> None:
        try:
            with closing(self._connect()) as db, db:
                db.execute(sql, args)
        except sqlite3.OperationalError as exc:
            hint = ": free some space on the workspace disk" if "full" in str(exc) else ""
            raise UserError(f"workspace registry {self.root / 'registry.sqlite'}: {exc}{hint}") from None

    # --- datasets ------------------------------------------------------------------------
    def add_dataset(
        self, name: str, path: Path, fmt: str, images: int, classes: list[str], splits: dict, origin: dict | None = None,
        *, base: str | None = None, version: int | None = None, parent: str | None = None, diff: dict | None = None,
    ) -> None:
        """Register a dataset folder; ``base``/``version``/``parent``/``diff`` for a version made by
        a label edit (a plain import is version 1 of its own name)."""
        self._write(
            "INSERT OR REPLACE INTO datasets (name, path, format, created, images, classes, splits, origin, base, version, parent, diff) "
            "VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
            (
                name, str(path), fmt, time.time(), images, json.dumps(classes), json.dumps(splits), json.dumps(origin), base, version,
                parent, json.dumps(diff),
            ),
        )

    def set_origin(self, name: str, origin: dict) -> None:
        """Record where dataset ``name`` came from (see _MIGRATIONS)."""
        self._write("UPDATE datasets SET origin=? WHERE name=?", (json.dumps(origin), name))

    # --- exports of a run -----------------------------------------------------------------
    def add_export(self, run_id: str, path: Path, fmt: str, options: dict, summary: str = "") -> None:
        """Record an export of run ``run_id``: the export_model options that made it (a rerun
        passes them again) and a one-line summary of its verification."""
        self._write(
            "INSERT OR REPLACE INTO exports (run, path, format, options, summary, created) VALUES (?,?,?,?,?,?)",
            (run_id, str(path), fmt, json.dumps(options), summary, time.time()),
        )

    def exports(self, run_id: str) -> list[dict[str, Any]]:
        """The recorded exports of a run, oldest first, whose files (an OpenVINO export: its folder) still exist."""
        rows = self._query("SELECT * FROM exports WHERE run=? ORDER BY created", (run_id,))
        return [r for r in rows if Path(r["path"]).exists()]

    def datasets(self) -> list[dict[str, Any]]:
        return [_versioned(r) for r in self._query("SELECT * FROM datasets ORDER BY created")]

    def dataset(self, name: str) -> dict[str, Any] | None:
        rows = self._query("SELECT * FROM datasets WHERE name=?", (name,))
        return _versioned(rows[0]) if rows else None

    def resolve_data(self, data: str | os.PathLike) -> Path:
        """``--data``: a workspace dataset name or a data.yaml path -> the data.yaml path."""
        record = self.dataset(str(data))
        if record:
            return Path(record["path"]) / "data.yaml"
        path = Path(data).expanduser()
        if path.is_dir() and (path / "data.yaml").is_file():
            path = path / "data.yaml"
        if path.suffix in {".yaml", ".yml"} and path.is_file():
            if not class_names(path):  # read with the bounds of safe_yaml: a bomb or a broken file fails here
                raise UserError(field="--data", value=data, detail="field 'names' is empty")
            return path.resolve()
        known = ", ".join(d["name"] for d in self.datasets()) or "none yet"
        raise UserError(field="--data", value=data, detail=f"not a dataset of workspace {self.root} (known: {known}) nor a data.yaml file",
                        brief=f"not in the workspace (it has: {known})")

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
        liveness.start_heartbeat(self.owners_dir)
        self._write(
            "INSERT INTO runs (id, dir, dataset, model, status, created, updated, settings, metrics, pid, owner) "
            "VALUES (?,?,?,?,?,?,?,?,?,?,?)",
            (run_id, str(run_dir), dataset, model, status, now, now, json.dumps(settings), json.dumps({}), os.getpid(), liveness.token()),
        )
        self._write_run_json(run_id)
        return run_dir

    def own_run(self, run_id: str, **fields: Any) -> None:
        """Mark this process as the one working on ``run_id`` (with a heartbeat), updating ``fields``."""
        liveness.start_heartbeat(self.owners_dir)
        self.update_run(run_id, pid=os.getpid(), owner=liveness.token(), **fields)

    def update_run(self, run_id: str, **fields: Any) -> None:
        if "status" in fields and fields["status"] not in RUN_STATES:
            raise ValueError(f"unknown run status {fields['status']!r}")
        fields["updated"] = time.time()
        cols = ", ".join(f"{k}=?" for k in fields)
        vals = tuple(json.dumps(v) if k in _JSON_FIELDS else v for k, v in fields.items())
        self._write(f"UPDATE runs SET {cols} WHERE id=?", (*vals, run_id))
        self._write_run_json(run_id)

    def _write_run_json(self, run_id: str) -> None:
        """The registry row mirrored into the run folder; a mirror, so a full disk only logs."""
        record = self.run(run_id)
        if not record:
            return
        path = Path(record["dir"]) / "run.json"
        tmp = path.with_name(".run.json.tmp")
        try:
            tmp.write_text(json.dumps(record, indent=2))
            os.replace(tmp, path)  # a crash mid-write leaves the old file, never half of one
        except OSError as exc:
            LOG.warning("could not write %s (%s)", path, exc.strerror)

    def runs(self) -> list[dict[str, Any]]:
        return self._query("SELECT * FROM runs ORDER BY created DESC")

    def run(self, run_id: str) -> dict[str, Any] | None:
        rows = self._query("SELECT * FROM runs WHERE id=?", (run_id,))
        return rows[0] if rows else None

    def require_run(self, run_id: str) -> dict[str, Any]:
        record = self.run(run_id)
        if record is None:
            raise UserError(
                field="--run", value=run_id, detail=f"no such run in workspace {self.root}", brief="no such run in this workspace"
            )
        return record

    def delete_run(self, run_id: str) -> None:
        """Remove a run: its folder, its exports and its registry row. Refused while it trains, and
        while a job of any process uses its folder (``liveness.using``: a label-issues job trains
        fold models inside it), naming the job."""
        record = self.require_run(run_id)
        if record["status"] in ("running", "queued"):
            raise UserError(f"run {run_id} is {record['status']}: stop it before deleting")
        run_dir = Path(record["dir"])
        liveness.refuse_while_used(run_dir, self.owners_dir, f"run {run_id}")
        # Moved aside, then asked again: a job that marked the folder between the first look and the
        # move is seen now (the move is undone); one starting after it finds no folder to use.
        aside = run_dir.with_name(f"{DELETING_PREFIX}{os.getpid()}-{run_id}")
        if run_dir.is_dir():
            try:
                run_dir.rename(aside)
                liveness.mark(aside, self.owners_dir)  # a crash before the end: reconcile finishes the delete
            except OSError as exc:
                raise UserError(f"run {run_id}: its folder cannot be deleted ({exc.strerror})") from None
            try:
                liveness.refuse_while_used(aside, self.owners_dir, f"run {run_id}")
            except UserError:
                (aside / liveness.MARKER).unlink(missing_ok=True)
                aside.rename(run_dir)
                raise
        self._forget_run(run_id, aside)

    def _forget_run(self, run_id: str, folder: Path) -> None:
        self._write("DELETE FROM runs WHERE id=?", (run_id,))
        self._write("DELETE FROM exports WHERE run=?", (run_id,))
        shutil.rmtree(folder, ignore_errors=True)
        shutil.rmtree(self.exports_dir / run_id, ignore_errors=True)

    # --- after a crash ---------------------------------------------------------------------
    def reconcile(self) -> dict[str, list[str]]:
        """Repair what processes that died left behind; returns what was done, by kind
        (``yolov11.workspace.recovery``)."""
        from yolov11.workspace.recovery import reconcile

        return reconcile(self)

    def _settle(self, run: dict, status: str, **fields: Any) -> bool:
        """Give a dead run its end state, unless it changed since it was read (another process
        took it over meanwhile: a resume, the app): compare and set on status and owner."""
        fields["updated"] = time.time()
        cols = ", ".join(f"{k}=?" for k in ("status", *fields))
        vals = (status, *(json.dumps(v) if k in _JSON_FIELDS else v for k, v in fields.items()))
        try:
            with closing(self._connect()) as db, db:
                changed = db.execute(
                    f"UPDATE runs SET {cols} WHERE id=? AND status=? AND owner IS ?", (*vals, run["id"], run["status"], run.get("owner"))
                ).rowcount
        except sqlite3.OperationalError as exc:
            raise UserError(f"workspace registry {self.root / 'registry.sqlite'}: {exc}") from None
        if changed:
            self._write_run_json(run["id"])
        return bool(changed)

    def run_weights(self, run_id: str) -> Path:
        """best.pt of a run, else last.pt (a run stopped before its first save has neither)."""
        run_dir = Path(self.require_run(run_id)["dir"])
        found = best_weights(run_dir)
        if found is None:
            raise UserError(f"run {run_id}: no weights in {run_dir / 'weights'} yet (did training finish an epoch?)")
        return found


def split_version(name: str) -> tuple[str, int]:
    """"hats@v3" -> ("hats", 3); a name without a version mark is version 1 of itself."""
    base, mark, n = str(name).rpartition(VERSION_MARK)
    return (base, int(n)) if mark and base and n.isdigit() else (str(name), 1)


def _versioned(row: dict[str, Any]) -> dict[str, Any]:
    """A datasets row with its version fields, filled in for rows written before they existed."""
    if row.get("version") is None:
        row["base"], row["version"] = split_version(row["name"])
    return row


def best_weights(run_dir: Path) -> Path | None:
    """A run folder's best.pt, else its last.pt, else None: the model a run stands for."""
    return next((p for p in (run_dir / "weights" / "best.pt", run_dir / "weights" / "last.pt") if p.is_file()), None)
