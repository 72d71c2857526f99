"""Names of a package imported on first use (PEP 562), so importing the package is cheap."""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable
from typing import Any


def lazy_names(package: str, homes: dict[str, str]) -> Callable[[str], Any]:
    """A module ``__getattr__`` for ``package`` that imports ``homes[name]`` (a module path)
    when ``name`` is first asked for, and keeps it in the package as a plain attribute; any
    other name is a submodule of the package, imported then."""

    def find(name: str) -> Any:
        home = homes.get(name)
        if home is None:  # a submodule, as ``package.name`` was once imported with it
            try:
                return importlib.import_module(f"{package}.{name}")
            except ModuleNotFoundError as exc:
                if exc.name != f"{package}.{name}":
                    raise
                raise AttributeError(f"module {package!r} has no attribute {name!r}") from None
        value = getattr(importlib.import_module(home), name)
        setattr(sys.modules[package], name, value)
        return value

    return find
