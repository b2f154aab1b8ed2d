"""The class names of a data.yaml: the one reader of names, for imports and every view."""

from __future__ import annotations

import os
from pathlib import Path

from yolov11.errors import UserError


def class_names(data: str | os.PathLike) -> list[str]:
    """The class names of a data.yaml (or a dataset folder holding one), in class-id order: the
    one reader of names, for imports and every view. ``names`` may be a list or a mapping of ids
    0..n-1 (ints, or digit strings such as "00") to names; anything else is a UserError naming
    the file."""
    from yolov11.safe_yaml import load_yaml

    path = Path(data)
    path = path / "data.yaml" if path.is_dir() else path
    doc = load_yaml(path)
    names = doc.get("names") if isinstance(doc, dict) else None
    where = f"{path.name}: field 'names'"
    if names is None or (isinstance(names, (list, dict)) and not names):
        raise UserError(f"{where} is empty: list the class names (names: [helmet, head])")
    if isinstance(names, dict):
        by_id = {}
        for key, value in names.items():
            if isinstance(key, bool) or not (isinstance(key, int) or (isinstance(key, str) and key.strip().isdigit())):
                raise UserError(f"{where} must map integer ids to names, not {key!r}")
            by_id[int(key)] = value
        if sorted(by_id) != list(range(len(by_id))):
            raise UserError(f"{where} ids must be 0..{len(by_id) - 1}, got {sorted(by_id)}")
        names = [by_id[i] for i in range(len(by_id))]
    if not isinstance(names, list):
        raise UserError(f"{where} must be a list or a mapping")
    for value in names:
        if isinstance(value, (dict, list)) or value is None or not str(value).strip():
            raise UserError(f"{where} holds {value!r}: each class name must be a non-empty word")
    return [str(v).strip() for v in names]
