"""Reading the JSON files people hand to istifta (manifests, ballots, trustees' files)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from istifta.errors import DecodeError, IstiftaError

__all__ = ["read_json"]


def read_json(path: Path, error: type[IstiftaError] = DecodeError) -> Any:
    """The JSON in ``path`` (UTF-8, with or without a byte-order mark), or
    ``error`` saying why not: missing, unreadable, not UTF-8, or not JSON (where)."""
    try:
        return json.loads(path.read_text(encoding="utf-8-sig"))
    except FileNotFoundError:
        raise error(f"{path}: no such file") from None
    except IsADirectoryError:
        raise error(f"{path} is a folder, not a file") from None
    except OSError as exc:
        raise error(f"cannot read {path}: {exc.strerror}") from None
    except UnicodeDecodeError:
        raise error(f"{path}: not UTF-8 text; save it as UTF-8") from None
    except json.JSONDecodeError as exc:
        raise error(f"{path}: not JSON (line {exc.lineno}, column {exc.colno}: {exc.msg})") from None
