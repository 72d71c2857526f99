"""The CLI contract of the ledger issue, through the real console script on a SQLite file."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from smsconsent.cli.app import app
from tests.conftest import Cli

OURS, ALICE, BOB = "+15557654321", "+15551234567", "+15551234568"


@pytest.fixture
def acme(sqlite_cli: Cli) -> Cli:
    """A workspace 'default' with one number, through the CLI."""
    created = sqlite_cli("workspace", "create", "default", "--business-name", "Acme Jobs",
                         "--contact", "help@acme.test")
    assert created.code == 0, created.err
    assert sqlite_cli("number", "add", OURS).code == 0
    return sqlite_cli


def test_stop_check_start_send(acme: Cli) -> None:
    """inbound STOP → check refused (exit 1) → START → send allowed with footer (exit 0)."""
    stop = acme("inbound", "--from", ALICE, "--to", OURS, "--body", "STOP ", "--id", "SM1")
    assert stop.code == 0, stop.err
    out = stop.json()
    assert (out["intent"], out["action"], out["duplicate"]) == ("opt_out", "opted_out", False)
    assert "START" in out["reply"]
    refused = acme("check", "--from", OURS, "--to", ALICE)
    assert refused.code == 1
    assert refused.json() == {**refused.json(), "allowed": False, "reason": "opted_out"}
    start = acme("inbound", "--from", ALICE, "--to", OURS, "--body", "start", "--id", "SM2")
    assert start.json()["action"] == "opted_in"
    sent = acme("send", "--from", OURS, "--to", ALICE, "--body", "Interview at 10")
    assert sent.code == 0
    assert sent.json()["body"] == "Interview at 10. Reply STOP to opt out."
    assert acme("audit", "verify").json()["ok"] is True


def test_replay_is_duplicate(acme: Cli) -> None:
    """The same --id twice: the second run is a no-op that says duplicate."""
    acme("inbound", "--from", ALICE, "--to", OURS, "--body", "STOP", "--id", "SM9")
    again = acme("inbound", "--from", ALICE, "--to", OURS, "--body", "STOP", "--id", "SM9")
    assert again.code == 0
    assert (again.json()["duplicate"], again.json()["reply"]) == (True, None)


def test_help_reply_and_help_text_validation(sqlite_cli: Cli) -> None:
    """A HELP text without the required parts is refused (exit 2); HELP gets the reply."""
    bad = sqlite_cli("workspace", "create", "default", "--business-name", "Acme",
                     "--contact", "help@acme.test", "--help-text", "Call us!")
    assert bad.code == 2
    assert "HELP text must include" in bad.err
    ok = sqlite_cli("workspace", "create", "default", "--business-name", "Acme",
                    "--contact", "help@acme.test", "--help-text",
                    "Acme: help at help@acme.test. Msg&Data rates may apply. "
                    "Reply STOP to opt out.")
    assert ok.code == 0, ok.err
    sqlite_cli("number", "add", OURS)
    help_ = sqlite_cli("inbound", "--from", ALICE, "--to", OURS, "--body", "HELP")
    assert help_.json()["reply"].startswith("Acme: help at help@acme.test")


def test_workspace_set_refuses_empty_business_details(acme: Cli) -> None:
    """``workspace set --business-name ""`` is a clear error (exit 2), as on create."""
    before = acme("workspace", "show", "default").json()
    for option in ("--business-name", "--contact"):
        run = acme("workspace", "set", "default", option, "")
        assert run.code == 2, (option, run.out)
        assert "required" in run.err
    assert acme("workspace", "show", "default").json() == before


def test_agents_guardrails(acme: Cli) -> None:
    """opt-in after a keyword STOP needs --evidence (exit 1 without); block refuses opt-in."""
    acme("inbound", "--from", ALICE, "--to", OURS, "--body", "STOP")
    refused = acme("opt-in", ALICE, "--by", "ann")
    assert refused.code == 1
    assert "evidence" in refused.err
    done = acme("opt-in", ALICE, "--by", "ann", "--evidence", "signed form 2026-11-20")
    assert done.code == 0 and done.json()["action"] == "opted_in"
    assert acme("block", ALICE, "--by", "ann").code == 0
    assert acme("check", "--from", OURS, "--to", ALICE).json()["reason"] == "blocked"
    assert acme("opt-in", ALICE, "--by", "ann", "--evidence", "call").code == 1
    assert acme("unblock", ALICE, "--by", "ann").code == 0
    assert acme("opt-out", BOB, "--by", "ann").json()["action"] == "opted_out"
    status = acme("status", BOB).json()
    assert status["status"] == "opted_out"
    history = acme("history", ALICE).json()["events"]
    assert [e["type"] for e in history][:2] == ["inbound_received", "opted_out"]
    assert any(e["actor"] == "agent:ann" for e in history)


def test_marketing_lists_and_consent(acme: Cli) -> None:
    """Marketing needs consent; list subscribe with evidence lets list marketing through."""
    check = ["check", "--from", OURS, "--to", ALICE, "--purpose", "marketing"]
    assert acme(*check).json()["reason"] == "no_marketing_consent"
    assert acme("list", "add", "deals", "--keyword", "OPTOUT").code == 0
    assert acme("list", "subscribe", "deals", ALICE, "--evidence", "web form").code == 0
    assert acme(*check, "--list", "deals").code == 0
    out = acme("inbound", "--from", ALICE, "--to", OURS, "--body", "OPTOUT").json()
    assert out["action"] == "list_opted_out"
    assert acme(*check, "--list", "deals").json()["reason"] == "list_opted_out"
    grant = acme("consent", "grant", ALICE, "--type", "express_written", "--purpose",
                 "marketing", "--evidence", "signed web form")
    assert grant.code == 0, grant.err
    assert acme(*check).code == 0


def test_send_retried_with_its_key_is_recorded_once(acme: Cli) -> None:
    """send --idempotency-key: a retry prints the first answer and records nothing; the key
    for another message exits 2 with idempotency_key_reused."""
    args = ["send", "--from", OURS, "--to", ALICE, "--body", "Hi", "--idempotency-key", "k1"]
    first = acme(*args)
    assert first.code == 0, first.err
    assert acme(*args).json() == first.json()
    sends = [e for e in acme("history", ALICE).json()["events"] if e["type"] == "send_allowed"]
    assert len(sends) == 1
    other = acme("send", "--from", OURS, "--to", BOB, "--body", "Hi", "--idempotency-key", "k1")
    assert other.code == 2 and "idempotency_key_reused" in other.err + other.out


def test_agent_takes_a_contact_off_one_list(acme: Cli) -> None:
    """list unsubscribe ends that list only, once, with an event; an unknown list is refused."""
    check = ["check", "--from", OURS, "--to", ALICE, "--purpose", "marketing"]
    for name in ("deals", "news"):
        assert acme("list", "add", name).code == 0
        assert acme("list", "subscribe", name, ALICE, "--evidence", "web form").code == 0
    off = acme("list", "unsubscribe", "deals", ALICE, "--by", "ann", "--evidence", "phoned")
    assert off.code == 0, off.err
    assert off.json() == {"action": "unsubscribed", "contact": ALICE, "workspace": "default",
                          "list": "deals"}
    assert acme("list", "unsubscribe", "deals", ALICE).json()["action"] == \
        "already_unsubscribed"
    assert acme(*check, "--list", "deals").json()["reason"] == "list_opted_out"
    assert acme(*check, "--list", "news").code == 0
    events = [e for e in acme("history", ALICE).json()["events"]
              if e["type"] == "list_opted_out"]
    assert len(events) == 1
    assert events[0]["actor"] == "agent:ann" and events[0]["data"]["evidence"] == "phoned"
    unknown = acme("list", "unsubscribe", "nope", ALICE)
    assert unknown.code != 0 and "nope" in unknown.err
    assert acme("audit", "verify").json()["ok"] is True


@pytest.mark.parametrize(
    "args",
    [
        ("inbound", "--from", ALICE, "--to", "+15559999999", "--body", "STOP"),
        ("inbound", "--from", "12ab", "--to", OURS, "--body", "STOP"),
        ("inbound", "--from", ALICE, "--to", OURS, "--body", ""),
        ("inbound", "--from", ALICE, "--to", OURS, "--body", "x" * 100_000),
        ("inbound", "--from", ALICE, "--to", OURS, "--body", "\x01\x02\x7fjunk"),
        ("check", "--from", OURS, "--to", "nope"),
        ("check", "--from", OURS, "--to", ALICE, "--purpose", "spam"),
        ("send", "--from", OURS, "--to", ALICE, "--body", " "),
        ("status", "+1"),
    ],
)
def test_bad_input_exit_2_and_nothing_changes(acme: Cli, args: tuple[str, ...]) -> None:
    """Bad input gets a JSON error on stderr, exit 2, and the ledger is unchanged."""
    before = acme("audit", "verify").json()["events"]
    result = acme(*args)
    assert result.code == 2, (result.out, result.err)
    assert '"error"' in result.err
    assert acme("audit", "verify").json()["events"] == before


def test_format_table(acme: Cli) -> None:
    """--format table prints a table instead of JSON."""
    result = acme("status", ALICE, "--format", "table")
    assert result.code == 0
    assert "status" in result.out and not result.out.startswith("{")


def test_global_options_after_the_command(acme: Cli, sqlite_url: str) -> None:
    """--db and --workspace work after the command too."""
    result = acme("status", ALICE, "--workspace", "default", "--db", sqlite_url)
    assert result.code == 0 and result.json()["workspace"] == "default"


def test_format_before_the_command(acme: Cli, sqlite_url: str) -> None:
    """--format, like --db and --workspace, may stand before the command (exit status and
    output as when it follows); a command without --format still refuses it."""
    table = acme("--format", "table", "status", ALICE)
    assert table.code == 0, table.err
    assert "status" in table.out and not table.out.startswith("{")
    mixed = acme("--db", sqlite_url, "--format=json", "--workspace", "default", "check",
                 "--from", OURS, "--to", ALICE)
    assert (mixed.code, mixed.json()["allowed"]) == (0, True)
    assert acme("--format", "table", "classify", "STOP").code == 2


def test_every_command_help_ends_in_an_example() -> None:
    """Every command documents itself with an example (its --help is the reference)."""
    from typer.main import get_command

    from smsconsent.cli import load_commands

    load_commands()
    root = get_command(app)
    missing: list[str] = []

    def walk(group: Any, path: list[str]) -> None:
        for name, command in group.commands.items():
            if hasattr(command, "commands"):
                walk(command, [*path, name])
            elif "Example:" not in (command.help or ""):
                missing.append(" ".join([*path, name]))

    walk(root, [])
    assert len(root.commands) >= 10  # type: ignore[attr-defined]
    assert missing == []


def test_demo_runs(sqlite_cli: Cli) -> None:
    """The quick start's demo runs and ends with a verified ledger."""
    result = sqlite_cli("demo")
    assert result.code == 0, result.err
    assert "verified" in result.out
    assert "reason=opted_out" in result.out


def test_single_workspace_needs_no_workspace_option(sqlite_cli: Cli) -> None:
    """With one workspace in the database, commands use it without --workspace."""
    sqlite_cli("workspace", "create", "acme", "--business-name", "Acme", "--contact", "a@b.co")
    added = sqlite_cli("number", "add", OURS)
    assert added.code == 0, added.err
    assert added.json()["workspace"] == "acme"


def test_workspace_keywords_file(acme: Cli, tmp_path: Path) -> None:
    """A workspace's own keywords (workspace set --keywords) are read on inbound texts."""
    policy = tmp_path / "kw.toml"
    policy.write_text('[opt_out]\nadd = ["BASTA"]\n', encoding="utf-8")
    bad = tmp_path / "bad.toml"
    bad.write_text("[opt_out\n", encoding="utf-8")
    assert acme("workspace", "set", "default", "--keywords", str(bad)).code == 2
    assert acme("inbound", "--from", ALICE, "--to", OURS, "--body", "basta").json()[
        "action"] == "none"
    assert acme("workspace", "set", "default", "--keywords", str(policy)).code == 0
    out = acme("inbound", "--from", BOB, "--to", OURS, "--body", "Basta!").json()
    assert (out["intent"], out["action"]) == ("opt_out", "opted_out")


def test_reopt_on_message_never_takes_a_plain_stop_under_strict_matching(acme: Cli) -> None:
    """With re-opt on any message and strict matching, an opted-out contact who writes "please
    stop all messages" (strict: not a keyword) stays opted out; another text opts them in."""
    assert acme("workspace", "set", "default", "--matching", "strict",
                "--reopt-on-message").code == 0
    assert acme("inbound", "--from", ALICE, "--to", OURS, "--body", "STOP").json()[
        "action"] == "opted_out"
    plain = acme("inbound", "--from", ALICE, "--to", OURS, "--body", "please stop all messages")
    assert (plain.json()["intent"], plain.json()["action"]) == ("none", "none"), plain.out
    assert acme("status", ALICE).json()["status"] == "opted_out"
    hello = acme("inbound", "--from", ALICE, "--to", OURS, "--body", "hello again")
    assert hello.json()["action"] == "opted_in_by_message"


@pytest.mark.parametrize("at", [None, "2026-11-24T02:00:00Z"])
def test_a_stop_on_top_of_an_agent_opt_out_still_needs_evidence_to_undo(
        acme: Cli, at: str | None) -> None:
    """An agent opts a contact out, then the contact texts STOP themselves (in order, or
    delivered late with an older time): the contact opted out by keyword, so an agent may not
    opt them back in without evidence (issue #3). The STOP is still answered as already out,
    with no confirmation, as documented."""
    assert acme("opt-out", ALICE, "--by", "alice").json()["action"] == "opted_out"
    args = ("inbound", "--from", ALICE, "--to", OURS, "--body", "STOP")
    stop = acme(*args, *(("--at", at) if at else ())).json()
    assert (stop["action"], stop["reply"]) == ("already_opted_out", None)
    refused = acme("opt-in", ALICE, "--by", "alice")
    assert refused.code == 1
    assert '"evidence_required"' in refused.err
    assert acme("check", "--from", OURS, "--to", ALICE).json()["reason"] == "opted_out"
    again = acme("inbound", "--from", ALICE, "--to", OURS, "--body", "STOP").json()
    assert (again["action"], again["reply"]) == ("already_opted_out", None)
    kinds = [e["type"] for e in acme("history", ALICE).json()["events"]]
    assert (kinds.count("opted_out"), kinds.count("reply_sent")) == (2, 0)
    assert acme("opt-in", ALICE, "--by", "alice", "--evidence", "signed form").code == 0
    assert acme("audit", "verify").json()["ok"] is True
