"""Ultralytics' settings switches of its experiment-tracker integrations.

Relies on: ``utils.SETTINGS`` (a dict that saves its file on every update) and its keys
"wandb" and "mlflow", which Ultralytics reads when a trainer adds its callbacks.
"""

from __future__ import annotations


def get(name: str) -> bool:
    from ultralytics.utils import SETTINGS

    return SETTINGS[name]


def set_many(values: dict[str, bool]) -> None:
    from ultralytics.utils import SETTINGS

    if values:
        SETTINGS.update(values)
