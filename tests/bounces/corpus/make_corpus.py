"""Write Digest's own bounce corpus: messages/*.eml and manifest.csv (run it, commit the output).

Every message is written from the documented or commonly seen format of its MTA or provider
(builders.py: RFC 3464 DSNs, RFC 5965 ARF, plain-text bounces, SES JSON; cases_*.py: the
wording of each sender, written for this corpus and varied on purpose). No message comes
from another project's corpus.

The manifest says, for each message and failed recipient, what a careful reader of the
message concludes: the recipient, the reason (digest.bounces.classify.Reason) and the kind
(hard, soft, complaint, unknown).

    python tests/bounces/corpus/make_corpus.py
"""

from __future__ import annotations

import csv
from pathlib import Path

from builders import CASES
from cases_more import add_more_cases
from cases_mta import add_mta_cases
from cases_providers import add_provider_cases

HERE = Path(__file__).parent
OUT = HERE / "messages"


def main() -> None:
    add_mta_cases()
    add_provider_cases()
    add_more_cases()
    OUT.mkdir(exist_ok=True)
    for old in OUT.glob("*.eml"):
        old.unlink()
    rows = []
    for number, case in enumerate(CASES, 1):
        file = f"{number:03d}_{case.name}.eml"
        (OUT / file).write_text(case.raw, encoding="utf-8")
        rows += [(file, case.sender, e.recipient, e.reason, e.kind) for e in case.expect]
    with (HERE / "manifest.csv").open("w", newline="", encoding="utf-8") as out:
        writer = csv.writer(out)
        writer.writerow(("file", "sender", "recipient", "reason", "kind"))
        writer.writerows(rows)
    print(f"{len(CASES)} messages from {len({c.sender for c in CASES})} senders")


if __name__ == "__main__":
    main()
