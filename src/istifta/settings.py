"""What the server's and the SMS sender's settings share: one :class:`Setting`
(name, environment variable, default, help), one parser of true or false,
and :class:`Secret`, which never shows its value. The tables themselves are
``web/settings.py`` and ``sms/settings.py``; ``docs/settings.md`` lists them."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Secret", "Setting", "truth"]


@dataclass(frozen=True)
class Setting:
    name: str
    env: str
    default: str
    help: str


def truth(value: str, env: str) -> bool:
    """``value`` of the variable ``env`` as true or false (1/0, true/false, yes/no, on/off)."""
    lowered = value.strip().lower()
    if lowered in ("1", "true", "yes", "on"):
        return True
    if lowered in ("0", "false", "no", "off", ""):
        return False
    raise ValueError(f"{env}: expected true or false, got {value!r}")


class Secret:
    """A password or token: usable as ``.value``, never shown by ``repr`` or ``str``."""

    def __init__(self, value: str) -> None:
        self.value = value

    def __repr__(self) -> str:
        return "Secret('***')" if self.value else "Secret('')"

    __str__ = __repr__

    def __bool__(self) -> bool:
        return bool(self.value)
