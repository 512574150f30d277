"""Curation: the stories of one edition for one town, in capped sections.

- Only stories inside the window count: published at most `window_hours` before `at`, and
  already seen at `at`.
- A cluster (one story and its wire copies) appears once per edition, as the reader's own
  town's copy when there is one, and never again in another edition of the same newsletter
  for that town: every edition built for another slot counts, whatever its send time (an
  edition built ahead for tomorrow never repeats today's). What an edition sent is read from
  its frozen story ids with their current cluster keys, so an editor's merge counts too.
- Top stories: the region's: clusters carried by the regional desk or the wire, and another
  town's story only when it is regionally popular or an editor picked it; editors' picks
  first, then by popularity with a recency decay. A town's own stories are its Local: newest
  and most read first. Most read and Just posted when the newsletter gives them a cap. The
  weights are the newsletter's (digest.curation.weights, docs/curation.md).
- The result depends only on the database, `at` and the slot: every ordering ends on a
  unique key.

Here the caps are filled in section order; the pieces are their own modules: what the town
was already sent (history), the window's clusters (window), each section's ranking (ranking)
and the cards a reader sees (cards).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from digest.curation.cards import section_title, sections_of, story_cards
from digest.curation.history import sent_before
from digest.curation.newsletters import DEFAULT_SECTIONS
from digest.curation.ranking import RANKINGS
from digest.curation.schedules import zone
from digest.curation.sections import SECTION_ORDER, Section
from digest.curation.weights import weights_of
from digest.curation.window import Cluster, unsent_clusters
from digest.models import Community, Newsletter

__all__ = ["Curation", "curate", "section_title", "story_cards"]


@dataclass(frozen=True)
class Curation:
    """One town's edition: its sections, or why there is nothing to send."""

    sections: list[Section]
    skip_reason: str | None = None
    window_start: datetime | None = None


def curate(
    session: Session,
    newsletter: Newsletter,
    community: Community,
    at: datetime,
    *,
    slot: datetime | None = None,
    spare: int = 0,
    audience: str = "",
    interests: frozenset[str] | None = None,
    window_hours: int | None = None,
) -> Curation:
    """The sections of `newsletter`'s edition for `community` and `slot`, as of `at` (aware).

    `slot` is the edition's naive local slot; by default the town's wall-clock time at `at`.
    For an audience of readers with their own choices (digest.readers.audiences): only
    stories of the `interests` sections fill the caps, `window_hours` replaces the
    newsletter's (a weekly edition looks back a week), and what counts as already sent is
    that audience's own earlier segments. Deterministic for the same data, `at` and slot.
    Reads only; does not commit. Curating many towns in one session reads the window's
    stories once (digest.curation.window). `spare` raises every section's cap by that many:
    the editor's desk offers them as next candidates.
    """
    if slot is None:
        slot = at.astimezone(zone(community.timezone)).replace(tzinfo=None, second=0, microsecond=0)
    caps = {key: cap + spare for key, cap in _caps(newsletter).items() if cap > 0}
    weights = weights_of(newsletter.weights)
    last_edition, sent = sent_before(session, newsletter, community, at, slot, audience)
    earliest = at - timedelta(hours=window_hours or newsletter.window_hours)
    clusters = unsent_clusters(session, earliest, at, sent)
    if interests is not None:
        clusters = [cluster for cluster in clusters if cluster.sections & interests]
    chosen: dict[str, list[Cluster]] = {}
    used: set[str] = set()
    for key in SECTION_ORDER:
        cap = caps.get(key, 0)
        if cap <= 0:
            continue
        ranked = RANKINGS[key](clusters, community.id, at, cap + len(used), weights)
        picked = [cluster for cluster in ranked if cluster.key not in used][:cap]
        used.update(cluster.key for cluster in picked)
        chosen[key] = picked
    sections = sections_of(session, chosen, community)
    if not sections:
        since = max(earliest, last_edition) if last_edition else earliest
        text = since.strftime("%Y-%m-%d %H:%M UTC")
        return Curation([], f"nothing new for {community.name} since {text}", earliest)
    return Curation(sections, None, earliest)


def _caps(newsletter: Newsletter) -> dict[str, int]:
    caps = newsletter.sections or DEFAULT_SECTIONS
    return {key: int(value) for key, value in caps.items() if key in SECTION_ORDER}
