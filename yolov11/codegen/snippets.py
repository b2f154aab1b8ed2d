"""The same call as code: a Python call of the public API and a shell command of the CLI.

The app shows both after each action ("Same in Python / Same in a shell") and a run's notebook
is made of such calls, so they must run as printed: Python values are written with ``repr``
(``True``, not JSON's ``true``), and each shell flag is looked up in the CLI's own parser by its
destination (``close_mosaic`` -> ``--close-mosaic``), so a snippet can only name flags that exist.

Keys and values come from recorded settings (a registry row, which an older version or a hand
may have written), so none of them may become code: values are literals, and a keyword that is
not a plain name goes into a ``**{...}`` dict of literals (``keyword_args``).
"""

from __future__ import annotations

import argparse
import functools
import json
import keyword
import math
import shlex
from collections.abc import Callable
from pathlib import PurePath
from typing import Any


def literal(value: Any) -> str:
    """``value`` as Python source that evaluates to it (paths as strings)."""
    if isinstance(value, PurePath):
        return repr(str(value))
    if isinstance(value, dict):
        return "{" + ", ".join(f"{literal(k)}: {literal(v)}" for k, v in value.items()) + "}"
    if isinstance(value, (list, tuple)):
        inner = ", ".join(literal(v) for v in value)
        return f"({inner},)" if isinstance(value, tuple) and len(value) == 1 else f"({inner})" if isinstance(value, tuple) else f"[{inner}]"
    if isinstance(value, float) and not math.isfinite(value):
        return f"float({str(value)!r})"  # nan, inf and -inf have no literal (JSON reads NaN)
    if value is None or isinstance(value, (bool, int, float, str)):
        return repr(value)
    raise TypeError(f"no Python literal for {type(value).__name__}")


def plain_name(key: object) -> bool:
    """Whether ``key`` can be written as ``key=`` in a call: an ASCII identifier, not a keyword
    (ASCII: other identifiers are NFKC-folded, so two keys could become one)."""
    return isinstance(key, str) and key.isascii() and key.isidentifier() and not keyword.iskeyword(key)


def keyword_args(kwargs: dict[Any, Any], value: Callable[[Any], str] = literal) -> list[str]:
    """``k=<value(v)>`` for each plain-name key, then one ``**{'key': literal, ...}`` holding
    every other key (``"x=__import__('os')...,y"`` stays a string): no key becomes code."""
    named = [f"{k}={value(v)}" for k, v in kwargs.items() if plain_name(k)]
    other = {str(k): v for k, v in kwargs.items() if not plain_name(k)}
    return named + ([f"**{literal(other)}"] if other else [])


def python_call(function: str, result: str | None = None, /, **kwargs: Any) -> str:
    """``result = yolov11.function(k=v, ...)``; keyword values as Python literals, keys that are
    not plain names in a ``**{...}`` dict."""
    call = f"yolov11.{function}({', '.join(keyword_args(kwargs))})"
    return f"{result} = {call}" if result else call


@functools.cache
def _actions(command: str) -> dict[str, argparse.Action]:
    from yolov11.cli.parser import build_parser

    parser = build_parser()
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return {a.dest: a for a in sub.choices[command]._actions}


def _word(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (dict, list)):
        return shlex.quote(json.dumps(value))
    return shlex.quote(str(value))


def shell_command(command: str, *positional: Any, **values: Any) -> str:
    """``python -m yolov11 command POSITIONAL --flag value ...``: each keyword is the parser
    destination of a flag of ``command`` (a KeyError names one that does not exist); ``None``
    leaves a flag out, a switch (``--json``, ``--half``) appears when true, ``--no-simplify``
    when ``simplify`` is false."""
    actions = _actions(command)
    words = ["python -m yolov11", command, *(_word(p) for p in positional)]
    for dest, value in values.items():
        if dest not in actions or not actions[dest].option_strings:
            raise KeyError(f"python -m yolov11 {command} has no flag for {dest!r}")
        action = actions[dest]
        flag = action.option_strings[0]
        if value is None:
            continue
        if isinstance(action, argparse._StoreTrueAction):
            words += [flag] if value else []
        elif isinstance(action, argparse._StoreFalseAction):
            words += [] if value else [flag]
        elif action.nargs == "?" and value in (False, "", None):
            continue  # an optional-value flag (--dynamic) left out
        else:
            words += [flag, _word(value)]
    return " ".join(words)
