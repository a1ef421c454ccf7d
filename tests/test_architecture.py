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


# --- the rooms and the arrows between them (docs/architecture.md) ---

NEVER = {
    "crypto": {"*"},  # anything of istifta but errors
    "protocol": {"store", "web", "sms", "cli"},
    "board": {"store", "web"},
    "sms": {"web", "cli"},
    "store": {"web", "cli"},
    "electorate": {"web"},
}
ALWAYS_ALLOWED = {"errors"}


def _room(module: str) -> str:
    """``istifta.store.board`` → ``store``; a top-level module is its own room."""
    return module.split(".")[1] if module.count(".") else "istifta"


def _module_of(path: Path) -> str:
    return ".".join(path.relative_to(SRC.parent).with_suffix("").parts).removesuffix(".__init__")


def _arrows() -> dict[str, dict[str, list[str]]]:
    """room → room it imports → the modules that do (imports inside functions included)."""
    arrows: dict[str, dict[str, list[str]]] = {}
    for path in sorted(SRC.rglob("*.py")):
        module = _module_of(path)
        for name in _imports(path):
            if name.startswith("istifta.") and _room(name) != _room(module):
                arrows.setdefault(_room(module), {}).setdefault(_room(name), []).append(module)
    return arrows


@pytest.mark.parametrize("room", sorted(NEVER))
def test_no_arrow_runs_the_wrong_way(room: str) -> None:
    for target, modules in _arrows().get(room, {}).items():
        forbidden = target not in ALWAYS_ALLOWED and ("*" in NEVER[room] or target in NEVER[room])
        assert not forbidden, f"{room} must never import {target}, but {sorted(set(modules))} do"


def test_no_rooms_import_each_other_in_a_cycle() -> None:
    graph = {room: set(targets) for room, targets in _arrows().items()}
    done: set[str] = set()

    def visit(room: str, path: list[str]) -> None:
        if room in path:
            cycle = path[path.index(room) :] + [room]
            raise AssertionError("rooms import each other in a cycle: " + " → ".join(cycle))
        if room in done:
            return
        for target in sorted(graph.get(room, ())):
            visit(target, [*path, room])
        done.add(room)

    for room in sorted(graph):
        visit(room, [])


def test_the_top_level_holds_few_modules_and_none_is_long() -> None:
    loose = sorted(p.name for p in SRC.glob("*.py"))
    assert len(loose) <= 7, loose  # __init__ and at most six more
    long = {
        str(p.relative_to(SRC)): n for p in SRC.rglob("*.py") if (n := len(p.read_text().splitlines())) > 400
    }
    assert not long, f"modules over 400 lines: {long}"


def _modules() -> list[Path]:
    return [p for p in sorted(SRC.rglob("*.py")) if "migrations" not in p.parts]


def test_every_module_declares_its_public_names() -> None:
    for path in _modules():
        if path.name == "__init__.py":
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"))
        declared = any(
            isinstance(node, ast.Assign) and any(getattr(t, "id", None) == "__all__" for t in node.targets)
            for node in tree.body
        )
        assert declared, f"{path.relative_to(SRC)} has no __all__"


def test_no_module_imports_a_name_another_keeps_to_itself() -> None:
    """``from istifta.X import name`` only for names in ``X.__all__`` (or submodules of a package)."""
    for path in _modules():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not (isinstance(node, ast.ImportFrom) and node.level == 0 and node.module):
                continue
            if not node.module.startswith("istifta"):
                continue
            target = importlib.import_module(node.module)
            exported = set(getattr(target, "__all__", ()))
            for alias in node.names:
                if (
                    alias.name in exported
                    or hasattr(target, "__path__")
                    and _is_submodule(node.module, alias.name)
                ):
                    continue
                raise AssertionError(
                    f"{path.relative_to(SRC)} imports {alias.name} from {node.module}, "
                    f"which is not in its __all__"
                )


def _is_submodule(package: str, name: str) -> bool:
    try:
        importlib.import_module(f"{package}.{name}")
    except ImportError:
        return False
    return True
