"""``python -m yolov11 <command> ...``: a thin shell over the ``yolov11`` API.

Every command prints a short human summary, or one JSON document with ``--json`` (training
ends with one JSON line). Bad input exits 2 with one line naming the file or field at fault; a
bug exits 1 with one line, its traceback in ``<workspace>/logs/errors.log``. The workspace
comes from ``--workspace`` or ``YOLOV11_WORKSPACE``; the flag is applied before Ultralytics is
imported (its config dir lives in the workspace).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import os
import sys
import threading
from pathlib import Path

from yolov11.cli import commands
from yolov11.cli.commands import close_bars
from yolov11.cli.parser import build_parser


def _trust(args: argparse.Namespace, ws) -> None:
    """--trust-weights: the .pt files this command names load unrestricted (checkpoints.trust)."""
    from yolov11 import checkpoints

    paths = [getattr(args, "weights", None), getattr(args, "model", None)]
    if getattr(args, "run", None):  # resume, eval, export, publish --run R: that run's checkpoints
        weights = Path(ws.require_run(args.run)["dir"]) / "weights"
        paths += [weights / "resume.pt", weights / "last.pt", weights / "best.pt"]
    for path in paths:
        if path and str(path).endswith(".pt") and Path(path).expanduser().is_file():
            checkpoints.trust(path)


def run_command(args: argparse.Namespace) -> tuple[object, str]:
    """Run one parsed command: the workspace reconciled first, then the command's function."""
    from yolov11.training import distributed
    from yolov11.workspace import Workspace

    ws = Workspace.at(None)
    if not distributed.in_torchrun():  # ranks leave it to the launcher (a node's ranks may share the workspace over NFS)
        ws.reconcile()  # runs of processes that died, scratch of dead imports: repaired before anything reads them
    if getattr(args, "trust_weights", False):
        _trust(args, ws)
    return getattr(commands, args.func)(args, ws)


@contextlib.contextmanager
def _stdout_to_stderr():
    """With --json, stdout carries only the JSON: library output goes to stderr meanwhile."""
    moved = [h for h in logging.getLogger("ultralytics").handlers if getattr(h, "stream", None) is sys.stdout]
    for h in moved:
        h.setStream(sys.stderr)
    try:
        with contextlib.redirect_stdout(sys.stderr):
            yield
    finally:
        for h in moved:
            h.setStream(sys.stdout)


def _log_crash(exc: BaseException | None = None, where: str = "") -> Path:
    """Append a traceback (default: the current exception's) to <workspace>/logs/errors.log;
    returns the path."""
    import time
    import traceback

    from yolov11.workspace import default_root

    path = default_root() / "logs" / "errors.log"
    text = "".join(traceback.format_exception(exc)) if exc is not None else traceback.format_exc()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path, "a", encoding="utf-8") as f:
            f.write(f"--- {time.strftime('%Y-%m-%d %H:%M:%S')} python -m yolov11 {' '.join(sys.argv[1:])}{where}\n{text}\n")
    except OSError:
        pass
    return path


def _thread_failed(info: threading.ExceptHookArgs) -> None:
    """A library's background thread failed (say Ultralytics plotting a batch onto a full disk):
    one line on stderr, the traceback in errors.log; the command itself goes on."""
    if info.exc_type is SystemExit:
        return
    name = info.thread.name if info.thread else "a thread"
    path = _log_crash(info.exc_value, f" (thread {name})")
    print(
        f"warning: background task {name} failed: {info.exc_type.__name__}: {' '.join(str(info.exc_value).split())[:200]} "
        f"(details in {path})",
        file=sys.stderr,
    )


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.workspace:
        os.environ["YOLOV11_WORKSPACE"] = os.path.abspath(os.path.expanduser(args.workspace))
    from yolov11.errors import UserError

    threading.excepthook = _thread_failed
    try:
        with _stdout_to_stderr() if args.json else contextlib.nullcontext():
            result, summary = run_command(args)
    except UserError as exc:
        close_bars()
        print(f"error: {' '.join(str(exc).split())}", file=sys.stderr)  # one line, whatever a library's message held
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except Exception as exc:  # a bug, not bad input: one line here, the traceback in the workspace's log
        close_bars()
        print(f"error: unexpected {type(exc).__name__}: {str(exc)[:200]} (a bug; details in {_log_crash()})", file=sys.stderr)
        return 1
    print(json.dumps(result, default=str, ensure_ascii=False) if args.json else summary)
    return 0
