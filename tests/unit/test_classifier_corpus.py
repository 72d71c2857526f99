"""The labelled corpus: every case the issue names, read under the policy it names."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from smsconsent import KeywordPolicy, classify

CORPUS = Path(__file__).parent / "corpus" / "classifier.jsonl"

POLICIES = {
    None: KeywordPolicy(),
    "lists": KeywordPolicy.from_dict(
        {
            "opt_out": {"add": ["HALT"]},
            "phrases": {"opt_out": {"add": ["no more deals"]}},
            "lists": {"OPTOUT": "marketing", "STOP DEALS": "deals"},
        }
    ),
    "tollfree": KeywordPolicy(yes_opts_in=False),
    "strict": KeywordPolicy(matching="strict"),
    "replaced": KeywordPolicy.from_dict(
        {"opt_out": {"replace": ["FIN"]}, "phrases": {"opt_out": {"replace": []}}}
    ),
}


def _rows() -> list[dict[str, Any]]:
    return [json.loads(line) for line in CORPUS.read_text("utf-8").splitlines()]


ROWS = _rows()


def test_corpus_is_large_and_covers_every_intent_and_language() -> None:
    """The corpus holds at least 300 messages, each intent, and each default language."""
    assert len(ROWS) >= 300
    assert {row["intent"] for row in ROWS} == {"opt_out", "opt_in", "help", "none"}
    assert {row.get("language") for row in ROWS} >= {"en", "es", "fr", "pt"}
    assert set(POLICIES) == {row.get("policy") for row in ROWS}


@pytest.mark.parametrize(
    "row", ROWS, ids=[f"{i}:{row['body'][:30]!r}" for i, row in enumerate(ROWS)]
)
def test_corpus_message_reads_as_labelled(row: dict[str, Any]) -> None:
    """Each corpus message gets its labelled intent, language and list, with an explanation."""
    result = classify(row["body"], POLICIES[row.get("policy")])
    assert result.intent.value == row["intent"], result.explanation
    if "language" in row:
        assert result.language == row["language"], result.explanation
    assert result.list == row.get("list")
    assert result.explanation
    assert (result.match is None) == (row["intent"] == "none")
