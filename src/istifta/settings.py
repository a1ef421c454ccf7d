"""Settings, declared once: each is a field of a frozen dataclass
(``web/settings.py``'s :class:`~istifta.web.settings.WebSettings`,
``sms/settings.py``'s :class:`~istifta.sms.settings.SmsSettings`) made with
:func:`setting`, which gives its environment variable, its default and its
help. :func:`table` lists them (for ``docs/settings.md`` and its test) and
:func:`load` reads them from the environment at the edge, converting each by
its field's type; everything else receives the dataclass. Secrets are
:class:`Secret`, which never shows its value.
"""

from __future__ import annotations

import dataclasses
import os
import typing
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any, TypeVar

from istifta.errors import SettingError

__all__ = ["DEFAULT_DATA_DIR", "Secret", "Setting", "load", "setting", "table", "truth"]

DEFAULT_DATA_DIR = Path("istifta-data")
"""Where istifta keeps its store, keys and files unless told otherwise: a folder of
that name in the current directory (``ISTIFTA_DATA_DIR``, ``--data-dir``)."""

T = TypeVar("T")


@dataclass(frozen=True)
class Setting:
    """One row of a settings table: the field, its variable, its default as text, its help."""

    name: str
    env: str
    default: str
    help: str


@dataclass(frozen=True, eq=True)
class Secret:
    """A password, token or URL with credentials: usable as ``.value``, never shown
    by ``repr`` or ``str`` (so never in a log or an error message)."""

    value: str = ""

    def __repr__(self) -> str:
        return "Secret('***')" if self.value else "Secret('')"

    __str__ = __repr__

    def __bool__(self) -> bool:
        return bool(self.value)


def setting(env: str, default: Any, help: str) -> Any:
    """A dataclass field that is a setting read from the variable ``env``."""
    return dataclasses.field(default=default, metadata={"env": env, "help": help})


def truth(value: str, env: str) -> bool:
    """``value`` of the variable ``env`` as true or false (1/0, true/false, yes/no, on/off)."""
    lowered = value.strip().lower()
    if lowered in ("1", "true", "yes", "on"):
        return True
    if lowered in ("0", "false", "no", "off", ""):
        return False
    raise SettingError(f"{env}: expected true or false, got {value!r}")


def table(cls: type) -> tuple[Setting, ...]:
    """The settings of the dataclass ``cls``, in declaration order."""
    return tuple(
        Setting(f.name, f.metadata["env"], _text(f.default), f.metadata["help"])
        for f in dataclasses.fields(cls)
        if "env" in f.metadata
    )


def load(
    cls: type[T], environ: Mapping[str, str] | None = None, overrides: Mapping[str, Any] | None = None
) -> T:
    """``cls`` from ``environ`` (default: the process environment), then ``overrides``
    (those that are not ``None``). A bad value raises :class:`SettingError` naming its variable."""
    env = os.environ if environ is None else environ
    kinds = typing.get_type_hints(cls)
    values: dict[str, Any] = {}
    for f in dataclasses.fields(cls):  # type: ignore[arg-type]
        name = f.metadata.get("env")
        if name is not None and name in env:
            values[f.name] = _convert(env[name], name, kinds[f.name])
    for key, value in (overrides or {}).items():
        if value is not None:
            values[key] = Secret(value) if kinds[key] is Secret and isinstance(value, str) else value
    return cls(**values)


def _convert(raw: str, env: str, kind: Any) -> Any:
    try:
        if kind is bool:
            return truth(raw, env)
        if kind is int:
            return int(raw)
        if kind is float:
            return float(raw)
        if kind is Decimal:
            return Decimal(raw)
        if kind is Path:
            return Path(raw)
        if kind is Secret:
            return Secret(raw)
    except SettingError:
        raise
    except (ValueError, InvalidOperation):
        raise SettingError(f"{env}: {raw!r} is not a valid {kind.__name__}") from None
    return raw


def _text(default: Any) -> str:
    if isinstance(default, bool):
        return "true" if default else "false"
    if isinstance(default, Secret):
        return default.value
    if isinstance(default, float) and default.is_integer():
        return str(int(default))
    return "" if default is None else str(default)
