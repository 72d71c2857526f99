"""`smsconsent classify` run as a real process, both forms, good and bad input."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = Path(sys.executable).parent / "smsconsent"


def run(*args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    """Run the installed console script (or `python -m smsconsent.cli` where there is none)."""
    command = [str(SCRIPT)] if SCRIPT.exists() else [sys.executable, "-m", "smsconsent.cli"]
    return subprocess.run(
        [*command, *args],
        input=stdin,
        capture_output=True,
        text=True,
        encoding="utf-8",
        timeout=60,
        check=False,
    )


def test_single_message_prints_one_classification() -> None:
    """`classify TEXT` prints exactly one JSON object, the classification, and exits 0."""
    done = run("classify", "Stop texting me please")
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert len(lines) == 1
    result = json.loads(lines[0])
    assert result["intent"] == "opt_out"
    assert result["match"] == "phrase"
    assert set(result) == {"intent", "match", "keyword", "language", "list", "explanation"}


def test_single_message_keeps_non_ascii_text() -> None:
    """Accented input is read and the language is reported."""
    result = json.loads(run("classify", "não quero mais receber nada").stdout)
    assert (result["intent"], result["language"]) == ("opt_out", "pt")


def test_python_dash_m_runs_the_same_command() -> None:
    """`python -m smsconsent.cli classify` works like the console script."""
    done = subprocess.run(
        [sys.executable, "-m", "smsconsent.cli", "classify", "HELP"],
        capture_output=True, text=True, timeout=60, check=False,
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["intent"] == "help"


def test_strict_policy_option() -> None:
    """`--policy strict` accepts only a keyword that is the whole message."""
    assert json.loads(run("classify", "--policy", "strict", "STOP.").stdout)["intent"] == "none"
    assert json.loads(run("classify", "--policy", "strict", " stop ").stdout)["intent"] == "opt_out"


def test_jsonl_writes_one_object_per_line_in_order_with_ids() -> None:
    """`--jsonl` answers every line in order, echoing each id (of any JSON type) when given."""
    lines = [
        {"id": 1, "body": "STOP"},
        {"id": "b", "body": "when can I start?"},
        {"body": "HELP"},
        {"id": None, "body": "START"},
    ]
    done = run("classify", "--jsonl", stdin="".join(json.dumps(x) + "\n" for x in lines))
    assert done.returncode == 0, done.stderr
    out = [json.loads(line) for line in done.stdout.splitlines()]
    assert [o["intent"] for o in out] == ["opt_out", "none", "help", "opt_in"]
    assert [o.get("id", "absent") for o in out] == [1, "b", "absent", None]
    assert all(set(o) >= {"intent", "match", "keyword", "explanation"} for o in out)


def test_jsonl_reports_every_bad_line_and_exits_2() -> None:
    """Bad lines are named on stderr by number, good lines are still answered, exit status 2."""
    stdin = "\n".join(
        [
            '{"id": 1, "body": "STOP"}',
            "not json",
            "",
            '["STOP"]',
            '{"id": 5}',
            '{"id": 6, "body": 7}',
            '{"id": 7, "body": "YES"}',
        ]
    )
    done = run("classify", "--jsonl", stdin=stdin + "\n")
    assert done.returncode == 2
    assert [json.loads(line)["id"] for line in done.stdout.splitlines()] == [1, 7]
    for number, words in [(2, "not JSON"), (3, "blank"), (4, "object"), (5, "body"), (6, "string")]:
        assert f"line {number}: " in done.stderr and words in done.stderr
    assert "line 1:" not in done.stderr and "line 7:" not in done.stderr


def test_keywords_file_in_toml_sets_lists_and_extra_keywords(tmp_path: Path) -> None:
    """A TOML --keywords file adds keywords and list keywords that win over the defaults."""
    policy = tmp_path / "policy.toml"
    policy.write_text(
        'yes_opts_in = false\n[opt_out]\nadd = ["HALT"]\n[lists]\nOPTOUT = "marketing"\n',
        encoding="utf-8",
    )
    stdin = "".join(json.dumps({"id": b, "body": b}) + "\n" for b in ["OPTOUT", "halt", "YES"])
    done = run("classify", "--keywords", str(policy), "--jsonl", stdin=stdin)
    assert done.returncode == 0, done.stderr
    out = {o["id"]: o for o in map(json.loads, done.stdout.splitlines())}
    assert (out["OPTOUT"]["intent"], out["OPTOUT"]["list"]) == ("opt_out", "marketing")
    assert out["halt"]["intent"] == "opt_out"
    assert out["YES"]["intent"] == "none"


def test_keywords_file_in_json(tmp_path: Path) -> None:
    """A JSON --keywords file in the stored form is accepted."""
    policy = tmp_path / "policy.json"
    policy.write_text(json.dumps({"lists": {"STOP DEALS": "deals"}}), encoding="utf-8")
    result = json.loads(run("classify", "--keywords", str(policy), "stop deals").stdout)
    assert (result["keyword"], result["list"]) == ("STOP DEALS", "deals")


@pytest.mark.parametrize(
    ("name", "content", "words"),
    [
        ("bad.toml", "[opt_out\n", "not valid toml"),
        ("bad.json", "{", "not valid json"),
        ("bad.toml", 'matching = "fuzzy"\n', "matching"),
        ("bad.json", '{"opt_out": {"add": "STOP"}}', "list of strings"),
        ("bad.json", '{"languages": ["xx"]}', "no keyword data"),
    ],
)
def test_bad_keywords_file_is_an_error(tmp_path: Path, name: str, content: str, words: str) -> None:
    """A malformed --keywords file gives a clear error naming the file, and exit status 2."""
    path = tmp_path / name
    path.write_text(content, encoding="utf-8")
    done = run("classify", "--keywords", str(path), "STOP")
    assert done.returncode == 2
    assert str(path) in done.stderr and words in done.stderr.lower()
    assert done.stdout == ""


def test_missing_keywords_file_is_an_error(tmp_path: Path) -> None:
    """A --keywords path that does not exist is an error, exit status 2."""
    done = run("classify", "--keywords", str(tmp_path / "nope.toml"), "STOP")
    assert done.returncode == 2 and "nope.toml" in done.stderr


def test_text_and_jsonl_are_exclusive() -> None:
    """Giving neither TEXT nor --jsonl, or both, is a usage error (exit status 2)."""
    assert run("classify").returncode == 2
    assert run("classify", "--jsonl", "STOP").returncode == 2


def test_help_is_complete_and_ends_with_an_example() -> None:
    """`classify --help` documents --jsonl's bad-line rule and ends its text with an example."""
    done = run("classify", "--help")
    assert done.returncode == 0
    assert 'Example: smsconsent classify "Stop texting me please"' in done.stdout
    for option in ("--jsonl", "--policy", "--keywords"):
        assert option in done.stdout
    assert "blank" in done.stdout


def test_jsonl_and_keywords_file_saved_with_a_byte_order_mark(tmp_path: Path) -> None:
    """Files saved by Windows tools often start with a UTF-8 BOM (the CSV imports accept one):
    it is not part of the first line, nor of a --keywords file."""
    policy = tmp_path / "kw.toml"
    policy.write_bytes('\ufeff[opt_out]\nadd = ["BASTA YA"]\n'.encode())
    stdin = '\ufeff{"id": 1, "body": "STOP"}\r\n{"id": 2, "body": "basta ya"}\r\n'
    done = run("classify", "--keywords", str(policy), "--jsonl", stdin=stdin)
    assert done.returncode == 0, done.stderr
    answers = [json.loads(line) for line in done.stdout.splitlines()]
    assert [(a["id"], a["intent"]) for a in answers] == [(1, "opt_out"), (2, "opt_out")]
    late = run("classify", "--jsonl", stdin='{"body": "STOP"}\n\ufeff{"body": "STOP"}\n')
    assert late.returncode == 2 and "line 2" in late.stderr  # only a file's first bytes
