"""Ranking a town's candidate clusters for each section: Top, Local, Most read, Just posted.

Each ranking returns at most `n` clusters, best first, and ends every ordering on the unique
cluster key, so the same data always gives the same edition (the rules: docs/curation.md).
"""

from __future__ import annotations

import heapq
from collections.abc import Callable
from datetime import datetime

from digest.curation.sections import JUST_POSTED, LOCAL, MOST_READ, TOP
from digest.curation.weights import Weights
from digest.curation.window import Cluster


def _decay(published_at: datetime, at: datetime, half_life_hours: float) -> float:
    age_hours = max((at - published_at).total_seconds() / 3600, 0.0)
    return float(0.5 ** (age_hours / half_life_hours))


def _top(
    clusters: list[Cluster], community_id: int, at: datetime, n: int, weights: Weights
) -> list[Cluster]:
    def order(cluster: Cluster) -> tuple[bool, float, str]:
        carried = min(len(cluster.feeds) - 1, 3) * weights.top_copies  # several sites: bigger
        strength = 1.0 + weights.top_popularity * cluster.popularity + carried
        score = strength * _decay(cluster.first_published, at, weights.top_half_life_hours)
        return (not cluster.editors_pick, -score, cluster.key)

    regional = (c for c in clusters if _is_regional(c, community_id, weights))
    return heapq.nsmallest(n, regional, key=order)


def _is_regional(cluster: Cluster, community_id: int, weights: Weights) -> bool:
    """The region's news for this town's readers (the Top rule, see the module's docstring)."""
    if cluster.regional():
        return True
    # Another town's story: the region's only when the region reads it or an editor says so.
    return community_id not in cluster.communities and (
        cluster.editors_pick or cluster.popularity >= weights.regional_popularity
    )


def _for_town(cluster: Cluster, community_id: int, weights: Weights) -> bool:
    """The region's news or the town's own: never another town's small story."""
    return community_id in cluster.communities or _is_regional(cluster, community_id, weights)


def _local(
    clusters: list[Cluster], community_id: int, at: datetime, n: int, weights: Weights
) -> list[Cluster]:
    def order(cluster: Cluster) -> tuple[bool, float, str]:
        strength = 1.0 + weights.local_popularity * cluster.popularity
        score = strength * _decay(cluster.last_published, at, weights.local_half_life_hours)
        return (not cluster.editors_pick, -score, cluster.key)

    own = (cluster for cluster in clusters if community_id in cluster.communities)
    return heapq.nsmallest(n, own, key=order)


def _most_read(
    clusters: list[Cluster], community_id: int, at: datetime, n: int, weights: Weights
) -> list[Cluster]:
    read = (c for c in clusters if c.popularity > 0 and _for_town(c, community_id, weights))
    return heapq.nsmallest(
        n, read, key=lambda c: (-c.popularity, -c.last_published.timestamp(), c.key)
    )


def _just_posted(
    clusters: list[Cluster], community_id: int, at: datetime, n: int, weights: Weights
) -> list[Cluster]:
    mine = (c for c in clusters if _for_town(c, community_id, weights))
    return heapq.nsmallest(n, mine, key=lambda c: (-c.last_published.timestamp(), c.key))


Ranking = Callable[[list[Cluster], int, datetime, int, Weights], list[Cluster]]
RANKINGS: dict[str, Ranking] = {
    TOP: _top,
    LOCAL: _local,
    MOST_READ: _most_read,
    JUST_POSTED: _just_posted,
}
