"""`digest newsletters add/set --language`: the language of a newsletter's emails and pages."""

from __future__ import annotations

from pathlib import Path

from tests.cli.test_cli import digest


def test_a_newsletter_is_added_and_set_in_french_and_a_third_language_is_refused(
    tmp_path: Path,
) -> None:
    env = {"DIGEST_DATABASE_URL": f"sqlite:///{tmp_path / 'cli.db'}"}
    assert digest("db", "upgrade", cwd=tmp_path, **env).returncode == 0
    added = digest(
        "newsletters", "add", "matin", "--name", "Le Matin", "--language", "FR", cwd=tmp_path, **env
    )
    assert added.returncode == 0, added.stderr
    assert "fr)" in added.stdout
    shown = digest("newsletters", "set", "matin", cwd=tmp_path, **env)
    assert "language fr" in shown.stdout
    back = digest("newsletters", "set", "matin", "--language", "en", cwd=tmp_path, **env)
    assert "language en" in back.stdout
    refused = digest("newsletters", "set", "matin", "--language", "es", cwd=tmp_path, **env)
    assert refused.returncode != 0
    assert "language 'es': Digest writes emails and pages in en (English) or fr" in (
        refused.stdout + refused.stderr
    )
    assert "Traceback" not in refused.stderr
