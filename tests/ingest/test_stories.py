"""Stories: idempotent upsert by guid then canonical URL, edits recorded, wire copies clustered."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from digest.errors import DigestError
from digest.ingest.cluster_edits import cluster_members, merge_clusters, split_story
from digest.ingest.clusters import ClusterIndex, title_tokens, url_cluster_key, wire_id
from digest.ingest.stories import ingest_stories
from digest.models import Community, Story
from tests.support.feeds import make_feed, put, story

NOW = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)
HOUR = timedelta(hours=1)


def count(session: Session) -> int:
    return session.scalar(select(func.count()).select_from(Story)) or 0


def test_upsert_is_idempotent(session: Session) -> None:
    feed = make_feed(session, "https://a.example/feed")
    items = [
        story("One", "https://a.example/1", NOW - HOUR),
        story("Two", "https://a.example/2", NOW - HOUR),
    ]
    first = ingest_stories(session, feed, items, NOW)
    second = ingest_stories(session, feed, items, NOW + HOUR)
    assert (first["new"], second["new"], second["unchanged"]) == (2, 0, 2)
    assert count(session) == 2


def test_an_edit_updates_the_story_and_bumps_its_revision(session: Session) -> None:
    feed = make_feed(session, "https://a.example/feed")
    (row,) = put(session, feed, [story("Fire at mill", "https://a.example/1", NOW - HOUR)], NOW)
    key, old_hash = row.cluster_key, row.content_hash
    edited = story(
        "Fire at mill: no one hurt", "https://a.example/1", NOW - HOUR, summary="Updated at noon."
    )
    counts = ingest_stories(session, feed, [edited], NOW + HOUR)
    assert counts["edited"] == 1
    assert (row.title, row.summary, row.revision) == (
        "Fire at mill: no one hurt",
        "Updated at noon.",
        2,
    )
    assert row.content_hash != old_hash
    assert row.updated_at == NOW + HOUR
    assert row.cluster_key == key  # editions already sent name it
    assert count(session) == 1


def test_a_changed_guid_with_the_same_url_is_the_same_story(session: Session) -> None:
    feed = make_feed(session, "https://a.example/feed")
    (row,) = put(session, feed, [story("Story", "https://a.example/1", NOW, guid="old")], NOW)
    counts = ingest_stories(
        session, feed, [story("Story", "https://a.example/1", NOW, guid="new")], NOW + HOUR
    )
    assert counts["new"] == 0
    assert count(session) == 1
    assert row.guid == "new"


def test_an_undated_story_keeps_its_first_seen_time(session: Session) -> None:
    feed = make_feed(session, "https://a.example/feed")
    undated = replace(story("Undated", "https://a.example/u", NOW), dated=False)
    (row,) = put(session, feed, [undated], NOW)
    later = replace(undated, published_at=NOW + 3 * HOUR)
    counts = ingest_stories(session, feed, [later], NOW + 3 * HOUR)
    assert counts["unchanged"] == 1
    assert row.published_at == NOW
    assert row.revision == 1


def test_same_canonical_url_in_two_feeds_is_one_cluster(session: Session) -> None:
    town = Community(slug="t", name="T", timezone="UTC")
    session.add(town)
    session.flush()
    wire = make_feed(session, "https://wire.example/feed")
    local = make_feed(session, "https://town.example/feed", town)
    (w,) = put(session, wire, [story("Bill passes", "https://wire.example/bill", NOW - HOUR)], NOW)
    (t,) = put(
        session,
        local,
        [story("Town runs the bill", "https://wire.example/bill", NOW - 20 * HOUR, guid="t1")],
        NOW,
    )
    assert w.cluster_key == t.cluster_key == url_cluster_key("https://wire.example/bill")
    assert t.community_id == town.id
    assert w.community_id is None


def test_near_identical_titles_close_in_time_are_one_cluster(session: Session) -> None:
    wire = make_feed(session, "https://wire.example/feed")
    town = make_feed(session, "https://town.example/feed")
    (w,) = put(
        session,
        wire,
        [
            story(
                "State legislature passes rural broadband bill",
                "https://wire.example/b",
                NOW - 2 * HOUR,
            )
        ],
        NOW,
    )
    (t,) = put(
        session,
        town,
        [
            story(
                "State Legislature Passes Rural Broadband Bill!",
                "https://town.example/b",
                NOW - HOUR,
            )
        ],
        NOW,
    )
    (u,) = put(
        session,
        town,
        [
            story(
                "State legislature passes the rural broadband bill today",
                "https://town.example/c",
                NOW,
            )
        ],
        NOW,
    )
    (v,) = put(
        session,
        town,
        [story("State legislature rejects rural broadband bill", "https://town.example/d", NOW)],
        NOW,
    )
    assert w.cluster_key == t.cluster_key == u.cluster_key  # 6 of 7 words: near-identical
    assert v.cluster_key != w.cluster_key  # one word in six changed: 5 of 7, a different story


def test_similar_titles_far_apart_in_time_are_different_stories(session: Session) -> None:
    wire = make_feed(session, "https://wire.example/feed")
    town = make_feed(session, "https://town.example/feed")
    (w,) = put(
        session,
        wire,
        [
            story(
                "City council approves annual budget plan",
                "https://wire.example/b",
                NOW - 72 * HOUR,
            )
        ],
        NOW,
    )
    (t,) = put(
        session,
        town,
        [story("City council approves annual budget plan", "https://town.example/b", NOW)],
        NOW,
    )
    assert w.cluster_key != t.cluster_key


def test_short_titles_and_same_feed_titles_never_cluster(session: Session) -> None:
    a = make_feed(session, "https://a.example/feed")
    b = make_feed(session, "https://b.example/feed")
    (x,) = put(session, a, [story("Police blotter", "https://a.example/p", NOW)], NOW)
    (y,) = put(session, b, [story("Police blotter", "https://b.example/p", NOW)], NOW)
    assert x.cluster_key != y.cluster_key
    one, two = put(
        session,
        a,
        [
            story("Road closures for the week of November 23", "https://a.example/r1", NOW),
            story("Road closures for the week of November 23rd", "https://a.example/r2", NOW),
        ],
        NOW,
    )
    assert one.cluster_key != two.cluster_key


def test_one_index_serves_many_feeds_in_a_poll(session: Session) -> None:
    wire = make_feed(session, "https://wire.example/feed")
    town = make_feed(session, "https://town.example/feed")
    index = ClusterIndex.load(session, NOW - HOUR, NOW)
    (w,) = put(
        session,
        wire,
        [story("Storm warning issued for upper midwest counties", "https://wire.example/s", NOW)],
        NOW,
        index,
    )
    (t,) = put(
        session,
        town,
        [story("Storm warning issued for Upper Midwest counties", "https://town.example/s", NOW)],
        NOW,
        index,
    )
    assert w.cluster_key == t.cluster_key


def test_title_tokens_fold_case_accents_and_stopwords() -> None:
    assert title_tokens("The Café of Zürich, AND the Lake!") == frozenset(
        {"cafe", "zurich", "lake"}
    )


BROADBAND = (
    "Lawmakers approved a plan to extend high speed internet to farms and small towns across "
    "the state, funding fiber lines, towers and grants for local providers over five years"
)


def test_a_retitled_and_rewritten_wire_copy_joins_the_wire_story(session: Session) -> None:
    wire = make_feed(session, "https://wire.example/feed")
    town = make_feed(session, "https://town.example/feed")
    (w,) = put(
        session,
        wire,
        [
            story(
                "State legislature passes rural broadband bill",
                "https://wire.example/broadband",
                NOW,
                summary=BROADBAND + ".",
            )
        ],
        NOW,
    )
    (t,) = put(
        session,
        town,
        [
            story(
                "Rural broadband expansion bill signed by governor",
                "https://town.example/broadband",
                NOW + 3 * HOUR,
                summary=BROADBAND.replace("Lawmakers approved", "The governor signed")
                + ", the Times has learned.",
            )
        ],
        NOW + 3 * HOUR,
    )
    assert w.cluster_key == t.cluster_key


def test_different_stories_with_a_shared_routine_do_not_cluster(session: Session) -> None:
    a = make_feed(session, "https://a.example/feed")
    b = make_feed(session, "https://b.example/feed")
    routine = "The council meets Tuesday at seven in the city hall chambers downtown, agenda online"
    (x,) = put(
        session,
        a,
        [story("Council weighs parking fees", "https://a.example/1", NOW, summary=routine)],
        NOW,
    )
    (y,) = put(
        session,
        b,
        [story("Library board picks new director", "https://b.example/1", NOW, summary=routine)],
        NOW,
    )
    assert x.cluster_key != y.cluster_key


def test_a_wire_identifier_or_the_wires_permalink_as_guid_joins_the_cluster(
    session: Session,
) -> None:
    wire = make_feed(session, "https://wire.example/feed")
    one = make_feed(session, "https://one.example/feed")
    two = make_feed(session, "https://two.example/feed")
    (w,) = put(
        session,
        wire,
        [story("Storm", "https://wire.example/s", NOW, guid="urn:wire:2026:storm-1")],
        NOW,
    )
    (a,) = put(
        session,
        one,
        [story("Big snow", "https://one.example/snow", NOW, guid="urn:wire:2026:storm-1")],
        NOW,
    )
    (b,) = put(
        session,
        two,
        [story("Snow day", "https://two.example/snow", NOW, guid="https://wire.example/s")],
        NOW,
    )
    assert w.cluster_key == a.cluster_key == b.cluster_key
    # A plain guid ("1234") is no wire identifier: every feed numbers its items.
    assert wire_id("1234") is None
    assert wire_id("urn:wire:2026:storm-1") is not None


def test_an_editor_merges_and_splits_clusters(session: Session) -> None:
    a = make_feed(session, "https://a.example/feed")
    b = make_feed(session, "https://b.example/feed")
    (x,) = put(session, a, [story("Ferry service resumes", "https://a.example/f", NOW)], NOW)
    (y,) = put(session, b, [story("Boats are back", "https://b.example/f", NOW)], NOW)
    assert x.cluster_key != y.cluster_key
    assert merge_clusters(session, x.id, y.id) == 1
    assert y.cluster_key == x.cluster_key
    assert [s.id for s in cluster_members(session, x.id)] == [x.id, y.id]
    key = split_story(session, y.id)
    assert y.cluster_key == key != x.cluster_key
    with pytest.raises(DigestError, match="alone in its cluster"):
        split_story(session, y.id)
    with pytest.raises(DigestError, match="no story 999999"):
        merge_clusters(session, x.id, 999999)


@pytest.mark.parametrize("short_first", [True, False])
def test_a_short_title_meets_its_one_word_longer_version(
    session: Session, short_first: bool
) -> None:
    short = "Valley water district approves new reservoir plan near Ridgecrest hills"  # 9 words
    long = short + " tonight"  # 10 words: one index each, found from both sides
    titles = (short, long) if short_first else (long, short)
    a = make_feed(session, "https://a.example/feed")
    b = make_feed(session, "https://b.example/feed")
    (x,) = put(session, a, [story(titles[0], "https://a.example/w", NOW)], NOW)
    (y,) = put(session, b, [story(titles[1], "https://b.example/w", NOW)], NOW)
    assert x.cluster_key == y.cluster_key


def test_a_true_copy_is_found_when_every_summary_shares_a_footer(session: Session) -> None:
    # Once most texts carry the footer it is boilerplate, left out of the sketches and of the
    # comparison: different stories stay apart (on a first poll, before the index has seen
    # it often, generic ones may still merge), and a retitled copy is found by its own words.
    index = ClusterIndex.load(session, NOW - HOUR, NOW)
    footer = "The post appeared first on the Valley Times website, read more there today"
    keys = []
    for n in range(120):
        feed = make_feed(session, f"https://paper{n}.example/feed")
        title = f"Paper {n} local item {n * 7} of the day"
        parsed = story(title, f"https://paper{n}.example/1", NOW, summary=footer)
        keys += [row.cluster_key for row in put(session, feed, [parsed], NOW, index)]
    assert len(set(keys[60:])) == 60
    wire = make_feed(session, "https://wire.example/feed")
    town = make_feed(session, "https://town.example/feed")
    (w,) = put(
        session,
        wire,
        [
            story(
                "State legislature passes rural broadband bill",
                "https://wire.example/b",
                NOW,
                summary=BROADBAND + " " + footer,
            )
        ],
        NOW,
        index,
    )
    (t,) = put(
        session,
        town,
        [
            story(
                "Rural broadband expansion bill signed by governor",
                "https://town.example/b",
                NOW + HOUR,
                summary=BROADBAND + " " + footer,
            )
        ],
        NOW + HOUR,
        index,
    )
    assert w.cluster_key == t.cluster_key
