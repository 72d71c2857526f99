"""smsconsent: the SMS consent and opt-out engine.

The public API is re-exported here; see README.md for the quick start. Its names are imported
on first use (``__getattr__``): a command that never classifies a message (``filter``,
``import``) does not load the classifier and its models with the package.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from smsconsent.lazy import lazy_names

if TYPE_CHECKING:
    from smsconsent.domain.classification import (
        DEFAULT_POLICY,
        Classification,
        Intent,
        KeywordPolicy,
        PolicyError,
    )
    from smsconsent.domain.classifier import classify

_HOMES = {"DEFAULT_POLICY": "classification", "Classification": "classification",
          "Intent": "classification", "KeywordPolicy": "classification",
          "PolicyError": "classification", "classify": "classifier"}

__all__ = ["DEFAULT_POLICY", "Classification", "Intent", "KeywordPolicy", "PolicyError", "classify"]
__version__ = "0.1.0"


__getattr__ = lazy_names(__name__, {name: f"smsconsent.domain.{home}"
                                    for name, home in _HOMES.items()})
