"""Fast construction for the frozen, slotted attrs records of the SMPP layer.

attrs builds a frozen instance by calling ``object.__setattr__`` once per field, because the
class's own ``__setattr__`` refuses writes. Measured on CPython 3.11 that is ~100 ns a field:
3 µs for an empty ``Tlvs`` (45 fields), 2.3 µs for a ``DeliverSm``, which at 40,000 messages a
second (a submit_sm, its response, a receipt and its response each) is a large share of one
core.

The way around it: every record class gets a *twin*, a subclass that adds no slots and restores
the ordinary ``__setattr__``/``__delattr__``. An instance is created as the twin, its slots are
written with plain (specialised, ~10 ns) attribute stores, and its ``__class__`` is then set to
the real class, which CPython allows because the layouts are identical. The result is an
ordinary frozen instance, indistinguishable from one attrs' ``__init__`` would build.

``fast_frozen`` installs an ``__init__`` that does this; the codec's generated decoders use
``twin_of`` directly and skip argument parsing too.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Final, TypeVar

import attrs

from smscd.smpp.codegen import define

_T = TypeVar("_T")

_TWIN_ATTR: Final = "_smpp_twin"
_GUARD: Final = object()


def twin_of(cls: type[Any]) -> type[Any]:
    """The writable twin of a class decorated with ``fast_frozen``."""
    twin = cls.__dict__.get(_TWIN_ATTR)
    if twin is None:
        raise TypeError(f"{cls.__qualname__} is not decorated with fast_frozen")
    return twin  # type: ignore[no-any-return]


def fast_frozen(cls: type[_T]) -> type[_T]:
    """Replace the ``__init__`` of a frozen, slotted attrs class with a faster one.

    Apply it above ``@attrs.frozen(..., slots=True)``. Only plain defaults are supported (no
    factories, validators or converters), which is all the SMPP records use; the signature is
    unchanged, so type checkers keep using the attrs one.

    Args:
        cls: a frozen, slotted attrs class.

    Returns:
        The same class, with a new ``__init__`` and a twin stored on it.

    Raises:
        TypeError: the class uses an attrs feature this initialiser does not reproduce.
    """
    if "__slots__" not in cls.__dict__:
        raise TypeError(f"{cls.__qualname__} must be slotted")
    fields = attrs.fields(cls)  # type: ignore[arg-type]
    twin = type(
        f"_Writable{cls.__name__}",
        (cls,),
        {
            "__slots__": (),
            # Both must be the C slot functions for CPython to specialise the stores.
            "__setattr__": object.__setattr__,
            "__delattr__": object.__delattr__,
            "__module__": cls.__module__,
        },
    )
    namespace: dict[str, object] = {"_twin": twin, "_cls": cls, "_set": object.__setattr__}
    params: list[str] = []
    stores: list[str] = []
    for field in fields:
        if (
            isinstance(field.default, attrs.Factory)  # type: ignore[arg-type]
            or field.validator is not None
            or field.converter is not None
            or not field.init
        ):
            raise TypeError(f"{cls.__qualname__}.{field.name} needs attrs' own __init__")
        if field.default is attrs.NOTHING:
            params.append(field.name)
        else:
            namespace[f"_d_{field.name}"] = field.default
            params.append(f"{field.name}=_d_{field.name}")
        stores.append(f"    self.{field.name} = {field.name}")
    kw_only = all(field.kw_only for field in fields)
    guard: list[str] = []
    if kw_only and params:
        # Keyword-only defaults cost CPython a dict lookup each per call (~7 ns; a Tlvs has
        # 45), positional defaults a tuple index. So the parameters stay positional and a
        # sentinel in front of them turns a positional argument into the TypeError that a
        # keyword-only signature would raise.
        namespace["_guard"] = _GUARD
        params.insert(0, "_positional=_guard")
        guard = [
            "    if _positional is not _guard:",
            f"        raise TypeError('{cls.__qualname__}() takes keyword arguments only')",
        ]
    signature = ", ".join(params)
    source = "\n".join(
        [
            f"def __init__(self, {signature}):" if params else "def __init__(self):",
            *guard,
            "    _set(self, '__class__', _twin)",
            *stores,
            "    self.__class__ = _cls",
        ]
    )
    init = define(source + "\n", namespace, "__init__", f"{cls.__name__}.__init__")
    init.__qualname__ = f"{cls.__qualname__}.__init__"
    init.__doc__ = cls.__init__.__doc__
    setattr(cls, "__init__", init)  # noqa: B010 - mypy rejects assigning to a method
    setattr(cls, _TWIN_ATTR, twin)
    return cls


def positional_factory(cls: type[_T]) -> Callable[..., _T]:
    """A function that builds a ``fast_frozen`` class from all its fields, in order.

    For the small records built several times per message (``StatusEvent``, ``Address``):
    it writes a fresh twin's slots and sets the class once, where ``__init__`` runs on an
    instance of the real class and has to switch it to the twin and back (~90 ns saved).

    Raises:
        TypeError: ``cls`` is not decorated with ``fast_frozen``.
    """
    twin = twin_of(cls)
    names = [field.name for field in attrs.fields(cls)]  # type: ignore[arg-type]
    source = "\n".join(
        [
            f"def make({', '.join(names)}):",
            "    o = _new(_twin)",
            *(f"    o.{name} = {name}" for name in names),
            "    o.__class__ = _cls",
            "    return o",
        ]
    )
    namespace: dict[str, object] = {"_new": object.__new__, "_twin": twin, "_cls": cls}
    return define(source + "\n", namespace, "make", f"{cls.__name__} factory")
