"""`digest subscribers`: consent proof, GDPR export and erasure, import and export of lists."""

from __future__ import annotations

import csv
import io
import json
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker
from typer.testing import CliRunner

from digest.cli import app
from digest.models import Subscriber, SubscriberStatus, Suppression
from digest.readers.consent import Origin
from digest.readers.signup import confirm, signup
from tests.support.web import START, populate

runner = CliRunner()


@pytest.fixture
def reader(committed: sessionmaker[Session]) -> int:
    populate(committed)
    with committed() as session, session.begin():
        outcome = signup(
            session,
            email="jane@example.org",
            community="springfield",
            newsletters=["morning"],
            consent=True,
            origin=Origin(
                "form: /", ip="203.0.113.7", user_agent="Firefox", wording_version="2026-11"
            ),
            wording="I agree",
            now=START,
            resend_after=timedelta(minutes=15),
        )
        assert outcome.subscriber_id is not None
        confirm(session, outcome.subscriber_id, Origin("confirm page", ip="203.0.113.8"), START)
        return outcome.subscriber_id


def test_consent_prints_the_proof(reader: int) -> None:
    result = runner.invoke(app, ["subscribers", "consent", "Jane@Example.org"])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0] == "Consent record of jane@example.org"
    assert "signup" in lines[1]
    assert "ip=203.0.113.7" in lines[1]
    assert "wording=2026-11" in lines[1]
    assert "confirm" in lines[2]
    assert "ip=203.0.113.8" in lines[2]


def test_export_prints_json(reader: int) -> None:
    result = runner.invoke(app, ["subscribers", "export", "jane@example.org"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["email"] == "jane@example.org"
    assert data["subscriptions"][0]["status"] == "confirmed"
    assert [e["action"] for e in data["consent_events"]] == ["signup", "confirm"]


def test_erase_removes_the_address_and_keeps_a_suppression(
    reader: int, committed: sessionmaker[Session]
) -> None:
    result = runner.invoke(app, ["subscribers", "erase", "jane@example.org", "--yes"])
    assert result.exit_code == 0, result.output
    assert "Erased jane@example.org: 2 consent events removed" in result.output
    with committed() as session:
        found = session.get(Subscriber, reader)
        assert found is not None
        assert found.email is None
        assert found.status == SubscriberStatus.ERASED
        assert session.scalars(select(Suppression)).one().email is None
    again = runner.invoke(app, ["subscribers", "export", "jane@example.org"])
    assert again.exit_code != 0


def test_import_needs_a_source_and_reports_each_row(
    committed: sessionmaker[Session], tmp_path: Path
) -> None:
    populate(committed)
    path = tmp_path / "readers.csv"
    path.write_text("email,name\nann@example.org,Ann\nnot-an-address,\n")
    missing = runner.invoke(app, ["subscribers", "import", str(path), "--newsletter", "morning"])
    assert missing.exit_code != 0
    assert "--source" in missing.output
    result = runner.invoke(
        app,
        [
            "subscribers",
            "import",
            str(path),
            "--source",
            "paper form at the fair",
            "--community",
            "springfield",
            "--newsletter",
            "morning",
        ],
    )
    assert result.exit_code == 0, result.output
    assert "1 new reader, 1 subscription confirmed" in result.output
    assert "line 3: not-an-address:" in result.output
    listing = runner.invoke(app, ["subscribers", "export-list", "--newsletter", "morning"])
    assert listing.exit_code == 0, listing.output
    rows = list(csv.DictReader(io.StringIO(listing.output)))
    assert [(r["email"], r["name"], r["source"]) for r in rows] == [
        ("ann@example.org", "Ann", "import: paper form at the fair")
    ]


def test_import_of_a_file_without_an_email_column_is_refused(
    committed: sessionmaker[Session], tmp_path: Path
) -> None:
    populate(committed)
    path = tmp_path / "bad.csv"
    path.write_text("address\nann@example.org\n")
    result = runner.invoke(
        app, ["subscribers", "import", str(path), "--source", "x", "--newsletter", "morning"]
    )
    assert result.exit_code != 0
    assert isinstance(result.exception, Exception)
    assert "email column" in str(result.exception)


def test_a_latin_1_file_from_a_spreadsheet_is_read_as_such(
    committed: sessionmaker[Session], tmp_path: Path
) -> None:
    populate(committed)
    path = tmp_path / "excel.csv"
    path.write_bytes("email,name\nrene@example.org,René Müller\n".encode("cp1252"))
    result = runner.invoke(
        app,
        [
            "subscribers",
            "import",
            str(path),
            "--source",
            "signup sheet",
            "--community",
            "springfield",
            "--newsletter",
            "morning",
        ],
    )
    assert result.exit_code == 0, result.output
    assert "as Windows-1252" in result.output
    assert "1 new reader" in result.output
    listing = runner.invoke(app, ["subscribers", "export-list", "--newsletter", "morning"])
    assert "René Müller" in listing.output


def test_a_mailchimp_export_dry_run_then_import_then_export_as_listmonk(
    committed: sessionmaker[Session], tmp_path: Path
) -> None:
    populate(committed)
    source = Path(__file__).parent.parent / "readers" / "lists" / "mailchimp_subscribed.csv"
    args = [
        "subscribers",
        "import",
        str(source),
        "--source",
        "Mailchimp",
        "--newsletter",
        "morning",
    ]
    dry = runner.invoke(app, [*args, "--dry-run"])
    assert dry.exit_code == 0, dry.output
    assert "as a mailchimp list" in dry.output
    assert "Would import" in dry.output
    assert "3 new readers" in dry.output
    assert "line 6: erin@example.org: unknown town 'Ogdenville'" in dry.output
    assert "Dry run: nothing was changed." in dry.output
    listing = runner.invoke(app, ["subscribers", "export-list", "--newsletter", "morning"])
    assert list(csv.DictReader(io.StringIO(listing.output))) == []
    real = runner.invoke(app, args)
    assert real.exit_code == 0, real.output
    assert "Imported" in real.output
    assert "3 new readers" in real.output
    listmonk = runner.invoke(
        app, ["subscribers", "export-list", "--newsletter", "morning", "--format", "listmonk"]
    )
    rows = list(csv.DictReader(io.StringIO(listmonk.output)))
    assert [r["email"] for r in rows] == ["ada@example.org", "bob@example.org", "carol@example.org"]
    assert rows[0]["attributes"] == '{"town": "springfield", "interests": ["news", "sports"]}'
    unknown = runner.invoke(
        app, ["subscribers", "export-list", "--newsletter", "morning", "--format", "nope"]
    )
    assert unknown.exit_code != 0
