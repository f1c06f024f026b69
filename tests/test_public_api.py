"""The public API is exactly what `inkeep_runtime.__all__` pins (in the manner of httpx's exported-members test)."""

from __future__ import annotations

import importlib
import pkgutil
import re

import inkeep_runtime


def test_public_api_is_pinned() -> None:
    assert inkeep_runtime.__all__ == ["InkeepError", "Settings", "create_app"]


def test_every_export_exists_and_says_where_it_lives() -> None:
    for name in inkeep_runtime.__all__:
        member = getattr(inkeep_runtime, name)
        assert member.__module__.startswith("inkeep_runtime."), name


def _isort_key(name: str) -> tuple[int, str]:
    """Ruff's RUF022 order: SCREAMING_CASE, then CamelCase, then the rest."""
    if re.fullmatch(r"[A-Z0-9_]+", name) and len(name) > 1:
        return (0, name)
    if name[:1].isupper():
        return (1, name)
    return (2, name)


def test_every_module_declares_a_sorted_all() -> None:
    unsorted = []
    missing = []
    for info in pkgutil.walk_packages(inkeep_runtime.__path__, "inkeep_runtime."):
        if info.name.endswith("__main__"):
            continue
        module = importlib.import_module(info.name)
        exported = getattr(module, "__all__", None)
        if exported is None:
            if not info.ispkg:
                missing.append(info.name)
            continue
        if list(exported) != sorted(exported, key=_isort_key):
            unsorted.append(info.name)
        for name in exported:
            assert hasattr(module, name), f"{info.name}.__all__ names missing {name!r}"
    assert (missing, unsorted) == ([], [])
