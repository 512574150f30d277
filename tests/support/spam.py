"""SpamAssassin's verdict on a message: Debian's spamassassin, local rules only, no Bayes."""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

from tests.support.services import require_program

SPAMASSASSIN = "/usr/bin/spamassassin"
THRESHOLD = 5.0


def spam_score(message: bytes, tmp_path: Path) -> tuple[float, str]:
    """SpamAssassin's score and report: local tests only (-L), scratch prefs, no Bayes."""
    program = require_program(SPAMASSASSIN, "spamassassin")
    result = subprocess.run(
        # No Bayes: its learning would make one run's score depend on the runs before it.
        [
            program,
            "-L",
            "-t",
            "-p",
            str(tmp_path / "user_prefs"),
            "--cf=use_bayes 0",
            "--cf=bayes_auto_learn 0",
        ],
        input=message,
        env={**os.environ, "HOME": str(tmp_path)},  # its state stays in the scratch folder
        capture_output=True,
        timeout=120,
        check=True,
    )
    output = result.stdout.decode("utf-8", "replace")
    found = re.search(r"^X-Spam-Status: \w+, score=(-?\d+(?:\.\d+)?)", output, re.M)
    assert found, output[:2000]
    return float(found[1]), output[output.find("Content analysis") :]
