"""The near-duplicate index alone (no database): its MinHash bands find what they promise."""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, datetime

from digest.ingest.clusters import BANDS, ROWS, ClusterIndex

NOW = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)


def pair(n: int, shared: int, own: int) -> tuple[tuple[str, str], tuple[str, str]]:
    """Two texts of `shared + own` words each, `shared` in common (2 of them in both titles).

    Titles of 4 words sharing 2 never match as titles, so only the bands can bring the two
    together; each pair's words are its own, so pairs never meet each other.
    """
    common = [f"p{n}c{i}" for i in range(shared)]
    left = [f"p{n}l{i}" for i in range(own)]
    right = [f"p{n}r{i}" for i in range(own)]
    first = (" ".join([*common[:2], *left[:2]]), " ".join(common[2:] + left[2:]))
    second = (" ".join([*common[:2], *right[:2]]), " ".join(common[2:] + right[2:]))
    return first, second


def joined(shared: int, own: int, pairs: int = 300) -> float:
    index = ClusterIndex()
    together = 0
    for n in range(pairs):
        (title_a, summary_a), (title_b, summary_b) = pair(n, shared, own)
        key = index.assign(1, f"https://a.example/{n}", title_a, NOW, summary_a)
        together += key == index.assign(2, f"https://b.example/{n}", title_b, NOW, summary_b)
    return together / pairs


def test_the_bands_find_copies_as_often_as_their_shape_promises() -> None:
    # 12 words shared of 20 in all: Jaccard 0.6, above the 0.5 a copy needs; 21 bands of 3
    # rows find such a pair with probability 1 - (1 - 0.6**3)**21 = 0.994.
    assert (BANDS, ROWS) == (21, 3)
    assert joined(shared=12, own=4) >= 0.97
    # 8 shared of 16 in all: Jaccard exactly 0.5, found with probability 0.94.
    assert joined(shared=8, own=4) >= 0.88


def test_texts_below_the_similarity_stay_apart_even_when_banded_together() -> None:
    # 6 shared of 18: Jaccard 0.33; the bands may propose the pair, the exact check refuses.
    assert joined(shared=6, own=6) == 0.0


def test_clustering_imports_nothing_heavy() -> None:
    # Why the MinHash index is Digest's own: datasketch imported scipy into every poll, half a
    # second of CPU before the first story. numpy comes only when a text is first sketched.
    probe = (
        "import sys, datetime as d; from digest.ingest import feeds, clusters; "
        "heavy = lambda: sorted({'scipy', 'numpy', 'datasketch'} & set(sys.modules)); "
        "print(heavy()); index = clusters.ClusterIndex(); "
        "index.assign(1, 'https://a.example/1', 'Council votes on the rural broadband bill', "
        "d.datetime(2026, 11, 24, tzinfo=d.UTC), 'state money for fibre to every farm road'); "
        "print(heavy())"
    )
    loaded = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True
    ).stdout
    assert loaded.split("\n")[:2] == ["[]", "['numpy']"]
