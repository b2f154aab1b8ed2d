"""Opening ``.pt`` checkpoints without running the code a stranger pickled into them.

A ``.pt`` is a pickle: loaded the usual way (``torch.load(weights_only=False)``, what
Ultralytics does by default) it can call any Python function. Every checkpoint this process
opens goes through torch's restricted unpickler instead (``weights_only=True``) with an
allowlist of the classes a detector checkpoint holds: torch's and Ultralytics' layers
(Ultralytics' own ``_SafeLoad`` list, the one its ``ULTRALYTICS_SAFE_LOAD`` mode uses) plus
our modules in ``yolov11.nn``. ``install()`` makes that the default of Ultralytics'
``torch_safe_load``, which every ``YOLO(path)``, trainer (``pretrained``, ``resume``) and
validator load passes through; ``load()`` is the same gate for our own reads, with a message
that names the global a refused file wanted.

A user who trusts a file that needs more (a checkpoint from another project's code) opts in
with ``trust(path)`` (the CLI's ``--trust-weights``, the app's "I trust this file" box): that
file's exact bytes (SHA-256) then load unrestricted in this process.
"""

from __future__ import annotations

import hashlib
import re
import threading
from pathlib import Path

from yolov11.compat import offline
from yolov11.errors import UserError
from yolov11.nn.graph_check import check_graph
from yolov11.nn.registered import checkpoint_classes

_TRUSTED: set[str] = set()  # SHA-256 of files the user vouched for
_LOCK = threading.Lock()
_REFUSED = re.compile(r"GLOBAL ([\w.]+)")  # torch's "Unsupported global: GLOBAL posix.system was not an allowed global"
PICKLE_HINT = "no model file needs: loading it could run code"


def _digest(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def trust(path: str | Path) -> None:
    """Let this exact file (by content) load unrestricted in this process: the user vouched for it."""
    digest = _digest(Path(path).expanduser())
    with _LOCK:
        _TRUSTED.add(digest)


def is_trusted(path: str | Path) -> bool:
    with _LOCK:
        if not _TRUSTED:
            return False
    try:
        digest = _digest(Path(path).expanduser())
    except OSError:
        return False
    with _LOCK:
        return digest in _TRUSTED


def _refused_global(path: Path, exc: BaseException) -> str | None:
    """The first global the restricted unpickler refused: from torch's message, else the file's
    list of globals minus those registered as safe."""
    import torch

    chain, seen = exc, 0
    while chain is not None and seen < 8:
        found = _REFUSED.search(str(chain))
        if found:
            return found.group(1)
        chain, seen = chain.__cause__ or chain.__context__, seen + 1
    try:
        needed = torch.serialization.get_unsafe_globals_in_checkpoint(str(path))
    except Exception:  # not a zip checkpoint: nothing to list
        return None
    allowed = set()
    for entry in torch.serialization.get_safe_globals():
        obj, name = entry if isinstance(entry, tuple) else (entry, None)
        allowed.add(name or f"{getattr(obj, '__module__', '')}.{getattr(obj, '__qualname__', '')}")
    return next((n for n in needed if n not in allowed), None)


def install() -> None:
    """Make restricted loading the default of Ultralytics' checkpoint loader (idempotent)."""
    from yolov11.compat import checkpoints as loader

    loader.install(lambda weight: not is_trusted(weight), checkpoint_classes())


def load(path: str | Path, field: str = "--weights") -> dict:
    """The checkpoint dict of ``path``, read through the restricted unpickler unless the file is
    trusted; UserError naming ``field``, the file and what is wrong (not a checkpoint, or the
    global it wanted) otherwise."""
    from yolov11.compat import checkpoints as loader

    offline.prepare()

    path = Path(path).expanduser()
    if not path.is_file():
        raise UserError(f"{field} {path}: no such file")
    if path.suffix != ".pt":
        raise UserError(f"{field} {path.name}: expected a .pt checkpoint")
    trusted = is_trusted(path)
    try:
        ckpt = loader.load(path, restricted=not trusted)
    except Exception as exc:
        refused = None if trusted else _refused_global(path, exc)
        if refused:
            raise UserError(
                f"{field} {path.name}: refused to load: the checkpoint needs {refused!r}, which {PICKLE_HINT} "
                "(pass --trust-weights, or tick 'I trust this file', only for a file you trust)"
            ) from None
        raise UserError(
            f"{field} {path.name}: not a PyTorch checkpoint: the file is empty, damaged or of another kind ({type(exc).__name__})"
        ) from None
    import torch

    model = (ckpt.get("ema") or ckpt.get("model")) if isinstance(ckpt, dict) else None
    if not isinstance(model, torch.nn.Module):
        raise UserError(f"{field} {path.name}: not an Ultralytics checkpoint (no model inside; a bare state_dict cannot be loaded here)")
    if not trusted and isinstance(getattr(model, "yaml", None), dict):
        # plain data the unpickler lets through, which Ultralytics rebuilds the model from (and eval()s) when a run starts from it
        check_graph(model.yaml, f"{field} {path.name}: its model graph")
    return ckpt


def check(path: str | Path, field: str = "--weights") -> Path:
    """Refuse now, with a clear message, a .pt that would be refused (or fail) when loaded later."""
    load(path, field)
    return Path(path).expanduser()


offline.when_prepared(install)  # the fence runs it once Ultralytics is prepared
