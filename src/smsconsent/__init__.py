"""smsconsent: the SMS consent and opt-out engine.

The public API is re-exported here; see README.md for the quick start.
"""

from smsconsent.domain.classification import (
    DEFAULT_POLICY,
    Classification,
    Intent,
    KeywordPolicy,
    PolicyError,
)
from smsconsent.domain.classifier import classify

__all__ = ["DEFAULT_POLICY", "Classification", "Intent", "KeywordPolicy", "PolicyError", "classify"]
__version__ = "0.1.0"
