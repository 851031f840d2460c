"""Turn generated source into a function, keeping it visible to tracebacks and debuggers.

The codec compiles its field tables into straight-line functions at import (see ``codec``,
``tlv`` and ``frozen``); this is the one place that calls ``exec``.
"""

from __future__ import annotations

import linecache
from collections.abc import Callable
from typing import Any


def define(source: str, namespace: dict[str, Any], name: str, label: str) -> Callable[..., Any]:
    """Execute ``source`` and return the function it defines.

    Args:
        source: Python source defining a function called ``name``; built by this package from
            its own tables, never from input.
        namespace: the globals the function sees (the generated code's helpers and constants).
        name: the function's name in ``source``.
        label: a short description, used as the pseudo file name ``<smpp label>``.

    Returns:
        The function.
    """
    filename = f"<smpp {label}>"
    code = compile(source, filename, "exec")
    # Registered so that tracebacks, pdb and inspect.getsource show the generated lines.
    linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)
    exec(code, namespace)
    function = namespace[name]
    if not callable(function):  # pragma: no cover - the sources above always define one
        raise TypeError(f"{label}: {name} is not a function")
    return function  # type: ignore[no-any-return]
