"""``smsconsent classify``: read inbound bodies the way the webhook does, and say why.

Thin on purpose: the file is read and parsed here, the policy is built by
``KeywordPolicy.from_dict`` and every reading is ``smsconsent.classify``.
"""

from __future__ import annotations

import json
import sys
import tomllib
from dataclasses import replace
from enum import StrEnum
from pathlib import Path
from typing import Any, NoReturn

import typer

from smsconsent.cli.app import app
from smsconsent.domain.classification import DEFAULT_POLICY, KeywordPolicy, PolicyError
from smsconsent.domain.classifier import classify, compiled

EXIT_BAD_INPUT = 2


class MatchingOption(StrEnum):
    """The --policy choices (KeywordPolicy.matching)."""

    standard = "standard"
    strict = "strict"


def _fail(message: str) -> NoReturn:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(EXIT_BAD_INPUT)


def _emit(obj: dict[str, Any]) -> None:
    """Write one JSON object on its own line, as UTF-8 whatever the locale says.

    A body holding a lone surrogate (possible in JSON input) cannot be written as UTF-8; that
    line falls back to ASCII escapes, which is still the same JSON value.
    """
    text = json.dumps(obj, ensure_ascii=False)
    try:
        data = text.encode("utf-8")
    except UnicodeEncodeError:
        data = json.dumps(obj).encode("ascii")
    sys.stdout.buffer.write(data + b"\n")


def load_policy_file(path: Path) -> KeywordPolicy:
    """Read a TOML (``.toml``) or JSON (any other name) policy file; errors name the file."""
    try:
        raw = path.read_bytes()
    except OSError as exc:
        _fail(f"--keywords {path}: {exc.strerror or exc}")
    try:
        if path.suffix.lower() == ".toml":
            data: Any = tomllib.loads(raw.decode("utf-8-sig"))  # a BOM is no content
        else:
            data = json.loads(raw.decode("utf-8-sig"))
        policy = KeywordPolicy.from_dict(data)
        compiled(policy)
    except UnicodeDecodeError:
        _fail(f"--keywords {path}: not UTF-8 text")
    except (tomllib.TOMLDecodeError, json.JSONDecodeError) as exc:
        _fail(f"--keywords {path}: not valid {path.suffix.lstrip('.') or 'JSON'}: {exc}")
    except PolicyError as exc:
        _fail(f"--keywords {path}: {exc}")
    return policy


def _read_jsonl(policy: KeywordPolicy) -> int:
    """Classify every good line; report each bad one on stderr; return the number of bad lines."""
    bad = 0
    for number, raw in enumerate(sys.stdin.buffer, start=1):
        problem = None
        try:
            # A file saved with a BOM (Windows tools) has it before its first line only.
            item = json.loads(raw.decode("utf-8-sig" if number == 1 else "utf-8"))
        except UnicodeDecodeError:
            problem = "not UTF-8 text"
        except json.JSONDecodeError as exc:
            problem = "blank line" if not raw.strip() else f"not JSON ({exc.msg})"
        else:
            if not isinstance(item, dict):
                problem = f"expected a JSON object, got {type(item).__name__}"
            elif "body" not in item:
                problem = 'missing "body"'
            elif not isinstance(item["body"], str):
                problem = '"body" must be a string'
        if problem is not None:
            bad += 1
            typer.echo(f"error: line {number}: {problem}", err=True)
            continue
        result = classify(item["body"], policy).to_dict()
        _emit({"id": item["id"], **result} if "id" in item else result)
    sys.stdout.flush()
    return bad


_HELP_PARAGRAPHS = (
    """Classify inbound SMS text as opt_out, opt_in, help or none, with the reason.""",
    """Prints one JSON object: intent, match ("keyword" or "phrase"), keyword (the keyword or
    the phrase matched), language (en, es, fr, pt), list (for a list keyword) and an
    explanation an auditor can read.""",
    """With --jsonl, each input line must be a JSON object with a string "body" and optionally
    an "id"; each good line gives one output line, in order: the classification plus the
    input's "id". Bad lines (not JSON, not an object, no string "body", blank) print
    "error: line N: ..." on standard error and give no output line; every good line is still
    read, and the exit status is then 2.""",
    """Exit status: 0 done, 2 bad input (arguments, --keywords file or --jsonl lines).""",
    'Example: smsconsent classify "Stop texting me please"',
)
# Typer keeps a docstring's line breaks; each paragraph is joined into one line instead.
_HELP = "\n\n".join(" ".join(p.split()) for p in _HELP_PARAGRAPHS)


@app.command("classify", help=_HELP)
def classify_command(
    text: str | None = typer.Argument(
        None, help="The message body to read. Leave out when using --jsonl."
    ),
    jsonl: bool = typer.Option(
        False, "--jsonl", help="Read JSON objects, one per line, from standard input."
    ),
    matching: MatchingOption | None = typer.Option(
        None,
        "--policy",
        case_sensitive=False,
        help="standard (default: tolerant matching and plain-language revocation) or strict "
        "(only a listed keyword that is the whole message). Overrides the file's 'matching'.",
    ),
    keywords: Path | None = typer.Option(
        None,
        "--keywords",
        help="A TOML (.toml) or JSON file of workspace keywords, phrases and list keywords "
        "(format: docs/keywords.md). A bad file is an error (exit 2).",
    ),
) -> None:
    """Classify inbound SMS text (see _HELP, which is what --help shows)."""
    if jsonl == (text is not None):
        _fail("give either TEXT or --jsonl (one of them)")
    policy = load_policy_file(keywords) if keywords is not None else DEFAULT_POLICY
    if matching is not None and matching.value != policy.matching:
        policy = replace(policy, matching=matching.value)
    if text is not None:
        _emit(classify(text, policy).to_dict())
        sys.stdout.flush()
        return
    if _read_jsonl(policy):
        raise typer.Exit(EXIT_BAD_INPUT)
