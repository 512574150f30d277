"""`digest newsletters utm`: the UTM parameters a newsletter adds to its story links."""

from __future__ import annotations

from pathlib import Path

from tests.cli.test_cli import digest


def test_utm_parameters_are_set_and_a_malformed_one_is_one_line(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    assert (
        digest(
            "newsletters",
            "add",
            "morning",
            "--name",
            "Morning",
            cwd=tmp_path,
            DIGEST_DATABASE_URL=url,
        ).returncode
        == 0
    )
    good = digest(
        "newsletters",
        "utm",
        "morning",
        "utm_source=digest&utm_medium=email",
        cwd=tmp_path,
        DIGEST_DATABASE_URL=url,
    )
    assert good.returncode == 0, good.stderr
    assert "utm_source=digest&utm_medium=email" in good.stdout
    bad = digest(
        "newsletters", "utm", "morning", "utm_source=<b>", cwd=tmp_path, DIGEST_DATABASE_URL=url
    )
    assert bad.returncode == 2
    assert bad.stderr.strip().startswith("error: UTM parameter 'utm_source=<b>' is not key=value")
    assert "Traceback" not in bad.stderr
