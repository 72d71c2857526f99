"""smsconsent: the SMS consent and opt-out engine.

The public API is re-exported here; see README.md for the quick start.
"""

from smsconsent.domain.classification import Classification, Intent, KeywordPolicy

__all__ = ["Classification", "Intent", "KeywordPolicy"]
__version__ = "0.1.0"
