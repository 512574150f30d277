"""`digest demo` books a sponsor for Springfield and a house ad elsewhere; `digest sponsors`
and `digest campaigns` list, book, refuse a clash in one line, and report (CSV), run as a
newcomer would in a fresh folder (the embedded SQLite database, the Maildir outbox)."""

from __future__ import annotations

import email
import mailbox
import subprocess
import sys
from email import policy
from email.message import EmailMessage
from pathlib import Path

from tests.cli.test_serve import bare_environment

PAID = "Winter-ready in one stop"
HOUSE = "Reach your neighbours"


def digest(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "digest", *args],
        cwd=cwd,
        env={**bare_environment(cwd, 8000), "COLUMNS": "200"},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def parts(data: bytes) -> tuple[str, str, str]:
    message = email.message_from_bytes(data, policy=policy.default)
    assert isinstance(message, EmailMessage)
    html = message.get_body(("html",)).get_content()  # type: ignore[union-attr]
    text = message.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    return str(message["To"]), html, text


def test_the_demo_sponsor_reaches_one_town_and_the_report_counts_it(tmp_path: Path) -> None:
    demo = digest("demo", cwd=tmp_path)
    assert demo.returncode == 0, demo.stderr
    outbox = mailbox.Maildir(tmp_path / "var" / "outbox", create=False)
    towns: dict[str, str] = {}
    for key in outbox.iterkeys():
        to, html, text = parts(outbox.get_bytes(key))
        town = to.rsplit("@", 1)[1].removesuffix(".example>").removesuffix(".example")
        ad = PAID if town == "springfield" else HOUSE
        assert ad in html, town
        assert ad in text, town
        assert (HOUSE if ad == PAID else PAID) not in html, town
        towns[to] = town
    assert sorted(set(towns.values())) == ["lakeside", "riverton", "springfield"]

    report = digest("sponsors", "report", "hardware-winter", "--csv", cwd=tmp_path)
    assert report.returncode == 0, report.stderr
    lines = report.stdout.splitlines()
    assert (
        lines[0] == "date,edition,town,impressions,clicks,unique_clicks,unique_estimated,click_rate"
    )
    assert [line.split(",")[2:5] for line in lines[1:]] == [["springfield", "3", "0"]]
    table = digest("sponsors", "report", "house-advertise", cwd=tmp_path)
    assert "Lakeside" in table.stdout
    assert "Riverton" in table.stdout
    assert "not counted yet" not in table.stdout  # clicks go through the counted redirect
    assert "http://127.0.0.1:8000/sponsor-report/" in table.stdout


def test_book_list_cancel_and_a_clash_in_one_line(tmp_path: Path) -> None:
    assert digest("demo", cwd=tmp_path).returncode == 0
    added = digest("sponsors", "add", "bakery", "--name", "Corner Bakery", cwd=tmp_path)
    assert added.returncode == 0, added.stderr
    book = (
        "campaigns", "book", "bakery-dec", "--sponsor", "bakery", "--headline", "Fresh bread",
        "--link", "https://bakery.example/", "--from", "2026-12-01", "--to", "2099-12-31",
        "--town", "springfield", "--newsletter", "morning",
    )  # fmt: skip
    clash = digest(*book, cwd=tmp_path)
    assert clash.returncode == 2
    assert clash.stderr.startswith("error: campaign 'bakery-dec' clashes with 'hardware-winter'")
    assert clash.stderr.count("\n") == 1
    elsewhere = digest(*book[:-4], "--town", "riverton", cwd=tmp_path)
    assert elsewhere.returncode == 0, elsewhere.stderr
    listed = digest("campaigns", "list", cwd=tmp_path)
    assert "bakery-dec" in listed.stdout
    assert "house" in listed.stdout
    assert digest("campaigns", "cancel", "bakery-dec", cwd=tmp_path).returncode == 0
    assert "bakery-dec" not in digest("campaigns", "list", cwd=tmp_path).stdout
    sponsors = digest("sponsors", "list", cwd=tmp_path)
    assert "Corner Bakery" in sponsors.stdout
    missing = digest("sponsors", "report", "nope", cwd=tmp_path)
    assert missing.returncode == 2
    assert "no campaign 'nope' (see `digest campaigns list`)" in missing.stderr
    bad_day = digest(*[("tomorrow" if arg == "2026-12-01" else arg) for arg in book], cwd=tmp_path)
    assert "--from 'tomorrow' is not a date" in bad_day.stderr
