"""The bulk commands through the real console script, on both backends."""

from __future__ import annotations

import csv
from pathlib import Path

from tests.conftest import Cli

SENDER = "+15557654321"


def _setup(cli: Cli) -> None:
    assert cli("workspace", "create", "default", "--business-name", "Acme",
               "--contact", "help@acme.test").code == 0
    assert cli("number", "add", SENDER).code == 0


def _events(cli: Cli) -> int:
    result = cli("audit", "verify")
    assert result.code == 0, result.out
    return int(result.json()["events"])


def _rows(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def test_import_opt_outs_idempotent_with_rejects(cli: Cli, tmp_path: Path) -> None:
    """Import writes events that verify, rejects unreadable rows with reasons, and a re-import
    changes nothing."""
    _setup(cli)
    data = tmp_path / "optouts.csv"
    data.write_bytes(
        "\ufeffphone,opted_out_at,source,evidence\r\n"
        "+15551230001,2024-01-02T03:04:05Z,keyword STOP,old tool\r\n"
        "\r\n"
        '"(555) 123-0002",,,"said ""stop"" on a call"\r\n'
        "bad,,,\r\n"
        "+15551230003,yesterday,,\r\n".encode())
    first = cli("import", "opt-outs", str(data))
    assert first.code == 0, first.err
    assert first.json() | {"seconds": 0} == {
        "rows": 4, "imported": 2, "unchanged": 0, "rejected": 2,
        "rejects_file": str(tmp_path / "optouts.csv.rejects.csv"), "seconds": 0}
    rejects = _rows(tmp_path / "optouts.csv.rejects.csv")
    assert [(r["phone"], r["reason"]) for r in rejects] == [
        ("bad", "invalid_phone"), ("+15551230003", "bad_time")]
    assert all(r["detail"] for r in rejects)
    events = _events(cli)
    again = cli("import", "opt-outs", str(data), "--rejects", str(tmp_path / "r2.csv"))
    assert again.json()["imported"] == 0 and again.json()["unchanged"] == 2
    assert _events(cli) == events
    status = cli("status", "5551230002").json()
    assert status["status"] == "opted_out"
    assert status["consents"]["sms:workspace"]["source"] == "import"


def test_filter_passes_columns_and_gives_reasons(cli: Cli, tmp_path: Path) -> None:
    """Filter keeps merge fields, writes E.164 under phone, refuses with reasons, records
    nothing."""
    _setup(cli)
    assert cli("opt-out", "+15551230001", "--by", "alice").code == 0
    events = _events(cli)
    data = tmp_path / "blast.csv"
    data.write_text('first,mobile,city\nAnn,+15551230001,x\nBob,(555) 123-0009,"Lyon, FR"\n'
                    "Bob again,5551230009,y\nNo,12,z\n", encoding="utf-8")
    result = cli("filter", str(data), "--from", SENDER, "--purpose", "informational",
                 "-o", str(tmp_path / "send.csv"), "--rejects", str(tmp_path / "refused.csv"))
    assert result.code == 0, result.err
    summary = result.json()
    assert (summary["rows"], summary["sendable"], summary["refused"]) == (4, 1, 3)
    assert summary["by_reason"] == {"duplicate": 1, "invalid_phone": 1, "opted_out": 1}
    assert _rows(tmp_path / "send.csv") == [
        {"first": "Bob", "phone": "+15551230009", "city": "Lyon, FR"}]
    refused = _rows(tmp_path / "refused.csv")
    assert [(r["first"], r["mobile"], r["reason"]) for r in refused] == [
        ("Ann", "+15551230001", "opted_out"), ("Bob again", "5551230009", "duplicate"),
        ("No", "12", "invalid_phone")]
    marketing = cli("filter", str(data), "--from", SENDER, "-o", str(tmp_path / "m.csv"))
    assert marketing.json()["by_reason"]["no_marketing_consent"] == 1
    two = cli("filter", str(data), "--from", SENDER, "--purpose", "informational",
              "-o", str(tmp_path / "send2.csv"), "--rejects", str(tmp_path / "refused2.csv"),
              "--processes", "2")
    assert two.code == 0, two.err
    assert {k: v for k, v in two.json().items() if k not in ("seconds", "sendable_file",
            "refused_file")} == {k: v for k, v in summary.items() if k not in (
            "seconds", "sendable_file", "refused_file")}
    assert (tmp_path / "send2.csv").read_bytes() == (tmp_path / "send.csv").read_bytes()
    assert (tmp_path / "refused2.csv").read_bytes() == (tmp_path / "refused.csv").read_bytes()
    three = cli("filter", str(data), "--from", SENDER, "-o", str(tmp_path / "x.csv"),
                "--processes", "3")
    assert three.code == 2 and "--processes" in three.err
    assert not (tmp_path / "x.csv").exists()
    assert _events(cli) == events


def test_bad_files_exit_2_and_change_nothing(cli: Cli, tmp_path: Path) -> None:
    """A missing, empty, non-UTF-8 or phoneless file exits 2, writes no file and no event."""
    _setup(cli)
    events = _events(cli)
    empty, latin, nophone = tmp_path / "e.csv", tmp_path / "l.csv", tmp_path / "n.csv"
    empty.write_text("\n\n", encoding="utf-8")
    latin.write_bytes("phone,name\n+15551230001,Jos\xe9\n".encode("latin-1"))
    nophone.write_text("name,email\nA,a@b.test\n", encoding="utf-8")
    cases = {tmp_path / "missing.csv": "no_such_file", empty: "empty_file",
             latin: "not_utf8", nophone: "no_phone_column"}
    for path, code in cases.items():
        result = cli("import", "opt-outs", str(path))
        assert result.code == 2 and code in result.err, (path, result.err)
        assert not Path(f"{path}.rejects.csv").exists()
        result = cli("filter", str(path), "--from", SENDER, "-o", str(tmp_path / "s.csv"))
        assert result.code == 2 and code in result.err
        assert not (tmp_path / "s.csv").exists()
    assert _events(cli) == events


def test_an_output_naming_the_input_or_another_output_is_refused(cli: Cli, tmp_path: Path
                                                                 ) -> None:
    """``--rejects`` or ``-o`` naming the input (which its first write would empty before a
    row is read), or two outputs naming one file, exit 2 with same_file: the input is kept
    as it was and nothing is imported."""
    _setup(cli)
    events = _events(cli)
    data = tmp_path / "optouts.csv"
    text = "phone,opted_out_at\n+15551230001,\n+15551230002,yesterday\n"
    data.write_text(text, encoding="utf-8")
    twice = str(tmp_path / "out.csv")
    for args in (("import", "opt-outs", str(data), "--rejects", str(data)),
                 ("import", "contacts", str(data), "--rejects", f"{tmp_path}/./optouts.csv"),
                 ("filter", str(data), "--from", SENDER, "-o", str(data)),
                 ("filter", str(data), "--from", SENDER, "-o", str(tmp_path / "x.csv"), "--rejects",
                  str(data)),
                 ("filter", str(data), "--from", SENDER, "-o", twice, "--rejects", twice)):
        result = cli(*args)
        assert result.code == 2 and "same_file" in result.err, (args, result.err)
        assert data.read_text(encoding="utf-8") == text
    assert not (tmp_path / "out.csv").exists()
    assert _events(cli) == events
    result = cli("import", "opt-outs", str(data), "--rejects", str(tmp_path / "r.csv"))
    assert (result.json()["imported"], result.json()["rejected"]) == (1, 1)


def test_an_output_that_cannot_be_written_exits_2(cli: Cli, tmp_path: Path) -> None:
    """An output in a folder that does not exist, or that is a folder, exits 2 with
    unwritable (not a traceback), leaves no other output behind and imports nothing."""
    _setup(cli)
    events = _events(cli)
    data = tmp_path / "optouts.csv"
    data.write_text("phone\n+15551230001\n", encoding="utf-8")
    missing = str(tmp_path / "no" / "such.csv")
    sendable = str(tmp_path / "sendable.csv")
    for args in (("import", "opt-outs", str(data), "--rejects", missing),
                 ("import", "contacts", str(data), "--rejects", str(tmp_path)),
                 ("filter", str(data), "--from", SENDER, "-o", sendable, "--rejects", missing),
                 ("export", "ledger", "-o", missing), ("export", "opt-outs", "-o", str(tmp_path))):
        result = cli(*args)
        assert result.code == 2 and '"unwritable"' in result.err, (args, result.err)
        assert "Traceback" not in result.err
    assert not Path(sendable).exists()
    assert _events(cli) == events


def test_a_column_read_twice_is_refused(cli: Cli, tmp_path: Path) -> None:
    """A header naming the phone (or a column an import reads) twice exits 2 with
    duplicate_column and imports nothing; repeated pass-through columns are fine."""
    _setup(cli)
    events = _events(cli)
    twice = tmp_path / "twice.csv"
    twice.write_text("phone,Phone\n+15551230001,+15551230002\n", encoding="utf-8")
    evidence = tmp_path / "evidence.csv"
    evidence.write_text("phone,evidence,evidence\n+15551230001,a,b\n", encoding="utf-8")
    for path in (twice, evidence):
        result = cli("import", "opt-outs", str(path))
        assert result.code == 2 and "duplicate_column" in result.err, result.err
    result = cli("filter", str(twice), "--from", SENDER, "-o", str(tmp_path / "s.csv"))
    assert result.code == 2 and "duplicate_column" in result.err
    assert _events(cli) == events
    notes = tmp_path / "notes.csv"
    notes.write_text("phone,note,note\n+15551230001,a,b\n", encoding="utf-8")
    assert cli("import", "opt-outs", str(notes)).json()["imported"] == 1


def test_an_unclosed_quote_is_rejected_not_imported(cli: Cli, tmp_path: Path) -> None:
    """A number whose quote is never closed swallows the lines after it: the row goes to the
    rejects file (with those lines, so nothing is lost) and nothing is imported."""
    _setup(cli)
    data = tmp_path / "open.csv"
    data.write_text('phone\n+15551230001\n"+15551230002\n+15551230003\n', encoding="utf-8")
    result = cli("import", "opt-outs", str(data))
    assert result.code == 0, result.err
    assert (result.json()["imported"], result.json()["rejected"]) == (1, 1)
    rejects = _rows(tmp_path / "open.csv.rejects.csv")
    assert [(r["phone"], r["reason"]) for r in rejects] == [
        ("+15551230002\n+15551230003\n", "unclosed_quote")]
    assert cli("status", "+15551230002").json()["status"] != "opted_out"


def test_times_outside_four_digit_utc_years_are_bad_times_not_crashes(cli: Cli, tmp_path: Path
                                                                       ) -> None:
    """A time whose offset takes it past year 9999 or before year 1 in UTC, or of a year
    before 1000 (written with fewer digits, out of text order), is a bad time: the row is
    rejected (the import goes on), and ``--since`` and ``--at`` exit 2."""
    _setup(cli)
    data = tmp_path / "times.csv"
    data.write_text("phone,opted_out_at\n+15551230001,9999-12-31T23:59:59-12:00\n"
                    "+15551230002,0001-01-01T00:00:00+01:00\n+15551230003,0100-01-01\n"
                    "+15551230004,0999-06-01\n+15551230005,2025-01-01\n", encoding="utf-8")
    result = cli("import", "opt-outs", str(data))
    assert result.code == 0, result.err
    assert (result.json()["imported"], result.json()["rejected"]) == (1, 4)
    rejects = _rows(tmp_path / "times.csv.rejects.csv")
    assert [r["reason"] for r in rejects] == ["bad_time"] * 4
    assert [r["phone"] for r in _rows_of(cli("export", "opt-outs").out)] == ["+15551230005"]
    for args in (("export", "ledger", "--since", "9999-12-31T23:59:59-12:00"),
                 ("export", "opt-outs", "--since", "0100-01-01"),
                 ("inbound", "--from", "+15551230006", "--to", SENDER, "--body", "STOP",
                  "--at", "0001-01-01T00:00:00+01:00")):
        refused = cli(*args)
        assert refused.code == 2 and "Traceback" not in refused.err, (args, refused.err)
    assert _events(cli) == 3  # the workspace, its number, the one opt-out


def _rows_of(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(text.splitlines()))


def test_a_field_over_the_reader_limit_exits_2_not_a_traceback(cli: Cli, tmp_path: Path
                                                                ) -> None:
    """A quote never closed in a big file makes a field over the CSV reader's limit: import
    and filter exit 2 with bad_csv, not a csv.Error traceback."""
    _setup(cli)
    data = tmp_path / "open.csv"
    with data.open("w", encoding="utf-8") as out:
        out.write('phone,note\n+15551230001,"open\n')
        out.write("+15551230002,x\n" * (18 << 16))  # over 16 MiB after the quote
    for args in (("import", "opt-outs", str(data)),
                 ("filter", str(data), "--from", SENDER, "-o", str(tmp_path / "s.csv"))):
        result = cli(*args)
        assert result.code == 2 and '"bad_csv"' in result.err, (args, result.err[-500:])
        assert "Traceback" not in result.err


def test_import_contacts_rules_and_export(cli: Cli, tmp_path: Path) -> None:
    """Contacts import never overrides an opt-out, needs written consent for marketing, is
    idempotent; the opt-out export lists the opted-out contact."""
    _setup(cli)
    assert cli("opt-out", "+15551230001", "--by", "alice").code == 0
    data = tmp_path / "contacts.csv"
    data.write_text(
        "phone,consent_type,purpose,evidence\n"
        "+15551230001,express,,web form\n"
        "+15551230002,express_written,marketing,signed form 2025-01-02\n"
        "+15551230003,express,marketing,web form\n"
        "+15551230004,,,\n", encoding="utf-8")
    first = cli("import", "contacts", str(data))
    assert (first.json()["imported"], first.json()["rejected"]) == (1, 3)
    reasons = [r["reason"] for r in _rows(tmp_path / "contacts.csv.rejects.csv")]
    assert sorted(reasons) == ["evidence_required", "marketing_needs_express_written", "opted_out"]
    again = cli("import", "contacts", str(data))
    assert (again.json()["imported"], again.json()["unchanged"]) == (0, 1)
    allowed = cli("check", "--from", SENDER, "--to", "+15551230002", "--purpose", "marketing")
    assert allowed.code == 0
    exported = cli("export", "opt-outs", "--format", "jsonl")
    assert [line for line in exported.out.splitlines() if "+15551230001" in line]
    ledger = cli("export", "ledger", "--format", "csv", "-o", str(tmp_path / "ledger.csv"))
    assert ledger.code == 0
    assert len(_rows(tmp_path / "ledger.csv")) == _events(cli)
