"""The pure core stays pure, and the public API is exactly what it says.

STYLE.md habit 1: crypto/, protocol/ and board/merkle.py take everything they
need as arguments and never touch a clock, a file, the network, the
environment or a logger; the edges call inward, never the reverse.
"""

from __future__ import annotations

import ast
import importlib
import pkgutil
from pathlib import Path

import pytest

import istifta

SRC = Path(istifta.__file__).parent
CORE = sorted([*SRC.glob("crypto/*.py"), *SRC.glob("protocol/*.py"), SRC / "board" / "merkle.py"])
ALLOWED_EXTERNAL = {
    "__future__", "collections", "copy", "ctypes", "dataclasses", "datetime", "functools",
    "hashlib", "hmac", "json", "math", "re", "typing", "pysodium", "nacl", "rfc8785",
}  # fmt: skip
ALLOWED_INTERNAL = ("istifta.crypto", "istifta.protocol", "istifta.board.merkle", "istifta.errors")
FORBIDDEN_CALLS = {"now", "utcnow", "today", "time", "urandom", "getenv", "open"}


def _imports(path: Path) -> list[str]:
    names = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names += [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.append(node.module)
    return names


@pytest.mark.parametrize("path", CORE, ids=lambda p: str(p.relative_to(SRC)))
def test_the_core_imports_only_pure_modules(path: Path) -> None:
    for name in _imports(path):
        if name.startswith("istifta"):
            assert name.startswith(ALLOWED_INTERNAL), f"{path.name} imports {name}"
        else:
            assert name.split(".")[0] in ALLOWED_EXTERNAL, f"{path.name} imports {name}"


@pytest.mark.parametrize("path", CORE, ids=lambda p: str(p.relative_to(SRC)))
def test_the_core_reads_no_clock_file_or_environment(path: Path) -> None:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            func = node.func
            name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
            assert name not in FORBIDDEN_CALLS, f"{path.name}:{node.lineno} calls {name}()"


def test_every_module_imports_and_declares_its_public_names() -> None:
    for info in pkgutil.walk_packages([str(SRC)], prefix="istifta."):
        if ".migrations" in info.name:
            continue  # Alembic's scripts run only inside Alembic
        module = importlib.import_module(info.name)
        exported = getattr(module, "__all__", None)
        if exported is None:
            continue
        for name in exported:
            assert hasattr(module, name), f"{info.name}.__all__ names {name}, which is missing"


def test_the_package_exports_exactly_its_errors_and_versions() -> None:
    assert sorted(istifta.__all__) == sorted(
        [
            "PROTOCOL_VERSION",
            "CeremonyError",
            "CredentialError",
            "DecodeError",
            "DecryptionError",
            "InvalidBallot",
            "IstiftaError",
            "ManifestError",
            "SelectionError",
            "__version__",
        ]
    )
    for name in istifta.__all__:
        value = getattr(istifta, name)
        if isinstance(value, type):
            assert issubclass(value, istifta.IstiftaError)
