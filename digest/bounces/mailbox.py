"""The Maildir of bounces: read each new report, act on it, commit, then mark it read."""

from __future__ import annotations

import logging
import os
from collections import Counter
from pathlib import Path

from sqlalchemy.orm import Session, sessionmaker

from digest.bounces.actions import apply_unsubscribe_request, process_report
from digest.bounces.reports import unsubscribe_request
from digest.clock import Clock
from digest.errors import DigestError
from digest.models import (
    BounceEvent,
)
from digest.settings import Settings

log = logging.getLogger(__name__)

# The Maildir of bounces


def maildir_path(url: str) -> Path:
    """The directory of a maildir:// URL (DIGEST_BOUNCE_MAILBOX_URL)."""
    return Path(url.removeprefix("maildir://"))


def process_maildir(
    factory: sessionmaker[Session], settings: Settings, path: Path, clock: Clock
) -> Counter[str]:
    """Process every unread report in a Maildir, one transaction each; returns counts.

    A report whose processing fails is logged and left unread for the next run; the others
    go on. Counts: messages, one per event kind, unmatched, duplicates, errors.
    """
    if not (path / "new").is_dir() or not (path / "cur").is_dir():
        raise DigestError(f"{path} is not a Maildir (it needs new/ and cur/ directories)")
    counts: Counter[str] = Counter()
    for file in _unread(path):
        counts["messages"] += 1
        raw, source = file.read_bytes(), f"maildir:{file.name}"
        try:
            with factory() as session, session.begin():
                request = unsubscribe_request(settings, raw)
                if request is not None:
                    apply_unsubscribe_request(session, request, source, clock.now())
                    counts["unsubscribes"] += 1
                    events = None
                else:
                    events = process_report(session, settings, raw, source, clock.now())
                    counts.update(_tally(events))
        except Exception:  # one bad report must not stop the rest; it stays for the next run
            log.exception("could not process bounce report %s; left unread", file)
            counts["errors"] += 1
            continue
        if events == []:
            counts["duplicates"] += 1
        _mark_read(path, file)
    return counts


def _tally(events: list[BounceEvent]) -> Counter[str]:
    tally = Counter(event.kind.value for event in events)
    tally.update("unmatched" for event in events if event.subscriber_id is None)
    return tally


def _unread(path: Path) -> list[Path]:
    fresh = [f for f in (path / "new").iterdir() if f.is_file()]
    unseen = [f for f in (path / "cur").iterdir() if f.is_file() and "S" not in _flags(f.name)]
    return sorted(fresh + unseen, key=lambda f: f.name)


def _flags(name: str) -> str:
    _base, _, info = name.partition(":2,")
    return info


def _mark_read(path: Path, file: Path) -> None:
    base = file.name.partition(":")[0]
    flags = "".join(sorted(set(_flags(file.name)) | {"S"}))
    os.replace(file, path / "cur" / f"{base}:2,{flags}")
