"""Reading feed documents: every field cleaned, every date aware, hostile markup gone."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from digest.ingest.parse import FeedError, canonical_url, clean_text, parse_feed
from tests.support.feeds import Item, rss

NOW = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)
FEED_URL = "https://news.example/feed.xml"


def one(document: str | bytes, url: str = FEED_URL):  # type: ignore[no-untyped-def]
    body = document.encode() if isinstance(document, str) else document
    feed = parse_feed(body, url, NOW)
    assert len(feed.stories) == 1, feed
    return feed.stories[0]


def test_rss_item_becomes_a_clean_story() -> None:
    story = one(
        rss(
            [
                Item(
                    "Council meets",
                    "https://news.example/a",
                    guid="g1",
                    published=datetime(2026, 11, 24, 3, 0, tzinfo=UTC),
                    description="<p>The <b>council</b> met &amp; voted.</p>",
                    extra="<author>ann@news.example (Ann Lee)</author>"
                    "<category>Politics</category><category>City</category>",
                )
            ]
        )
    )
    assert story.guid == "g1"
    assert story.url == "https://news.example/a"
    assert story.title == "Council meets"
    assert story.summary == "The council met & voted."
    assert story.published_at == datetime(2026, 11, 24, 3, 0, tzinfo=UTC)
    assert story.dated
    assert story.author == "ann@news.example (Ann Lee)"
    assert story.categories == ("Politics", "City")


def test_atom_and_rss1_are_read() -> None:
    atom = (
        '<?xml version="1.0"?><feed xmlns="http://www.w3.org/2005/Atom"><title>A</title>'
        "<entry><title>Atom story</title><link href='https://a.example/1'/><id>urn:1</id>"
        "<updated>2026-11-24T01:00:00-07:00</updated></entry></feed>"
    )
    story = one(atom)
    assert (story.guid, story.url) == ("urn:1", "https://a.example/1")
    assert story.published_at == datetime(2026, 11, 24, 8, 0, tzinfo=UTC)
    rdf = (
        '<?xml version="1.0"?><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#" '
        'xmlns="http://purl.org/rss/1.0/"><channel rdf:about="https://r.example/"><title>R</title>'
        "<link>https://r.example/</link></channel><item rdf:about='https://r.example/1'>"
        "<title>RDF story</title><link>https://r.example/1</link></item></rdf:RDF>"
    )
    assert one(rdf).title == "RDF story"


def test_rss_091_with_its_doctype_is_read() -> None:
    doc = (
        '<?xml version="1.0"?><!DOCTYPE rss PUBLIC "-//Netscape Communications//DTD RSS 0.91//EN" '
        '"http://my.netscape.com/publish/formats/rss-0.91.dtd"><rss version="0.91"><channel>'
        "<title>Old</title><link>https://old.example/</link><description>d</description>"
        "<item><title>Old story</title><link>https://old.example/1</link></item></channel></rss>"
    )
    assert one(doc).title == "Old story"


@pytest.mark.parametrize(
    ("link", "expected"),
    [
        ("https://n.example/a?utm_source=rss&utm_medium=x&id=7#top", "https://n.example/a?id=7"),
        ("https://n.example/a?fbclid=abc&gclid=d", "https://n.example/a"),
        ("HTTPS://N.Example/a", "https://n.example/a"),
        ("/news/a", "https://news.example/news/a"),
        ("b.html", "https://news.example/b.html"),
        ("javascript:alert(1)", None),
        ("data:text/html,hi", None),
        ("", None),
    ],
)
def test_canonical_url(link: str, expected: str | None) -> None:
    assert canonical_url(link, FEED_URL) == expected


def test_relative_links_become_absolute() -> None:
    story = one(rss([Item("Relative", "/2026/11/relative-story")]))
    assert story.url == "https://news.example/2026/11/relative-story"


def test_missing_invalid_and_far_future_dates_become_first_seen() -> None:
    for published in (None, "not a date at all", "Fri, 01 Jan 2099 00:00:00 GMT"):
        story = one(rss([Item("Dated?", "https://n.example/d", published=published)]))
        assert story.published_at == NOW
        assert story.published_at.tzinfo is not None
        assert not story.dated


def test_offsets_are_converted_to_utc() -> None:
    story = one(
        rss([Item("Zoned", "https://n.example/z", published="Tue, 24 Nov 2026 01:30:00 -0800")])
    )
    assert story.published_at == datetime(2026, 11, 24, 9, 30, tzinfo=UTC)


def test_script_event_handlers_and_javascript_links_are_gone() -> None:
    story = one(
        rss(
            [
                Item(
                    'Hello <script>alert("t")</script><b onclick="steal()">world</b>',
                    "https://n.example/x",
                    description=(
                        '<p onmouseover="evil()">Read <a href="javascript:alert(1)">this</a>'
                        '<img src=x onerror="alert(2)"><script>document.cookie</script>'
                        "<style>body{}</style><iframe src='https://evil.example'></iframe> now</p>"
                    ),
                )
            ]
        )
    )
    for text in (story.title, story.summary):
        lowered = text.lower()
        for bad in ("<", "script", "onclick", "onerror", "onmouseover", "javascript:", "cookie"):
            assert bad not in lowered, (bad, text)
    assert story.title == "Hello world"
    assert story.summary == "Read this now"


def test_escaped_markup_in_text_is_not_shown_as_tags() -> None:
    assert clean_text("&lt;script&gt;alert(1)&lt;/script&gt; Fish", 100) == "alert(1) Fish"
    assert clean_text("5 &lt; 6 and 7 &gt; 3", 100) == "5 < 6 and 7 > 3"


def test_a_2000_character_title_is_cut_at_a_word() -> None:
    story = one(rss([Item("word " * 400, "https://n.example/long")]))
    assert len(story.title) <= 300
    assert story.title.endswith("\u2026")
    assert story.title.removesuffix("\u2026").split()[-1] == "word"


def test_duplicate_guids_keep_the_first_item() -> None:
    feed = parse_feed(
        rss(
            [
                Item("First", "https://n.example/1", guid="same"),
                Item("Second", "https://n.example/2", guid="same"),
            ]
        ).encode(),
        FEED_URL,
        NOW,
    )
    assert [story.title for story in feed.stories] == ["First"]
    assert any("repeats guid 'same'" in problem for problem in feed.problems)


def test_item_without_link_is_left_out_and_named() -> None:
    feed = parse_feed(
        rss(
            [
                Item("No link", ""),
                Item("Has link", "https://n.example/ok"),
            ]
        ).encode(),
        FEED_URL,
        NOW,
    )
    assert [story.title for story in feed.stories] == ["Has link"]
    assert feed.problems == ["item 1 has no usable link; left out"]


@pytest.mark.parametrize(
    ("extra", "description", "image", "alt"),
    [
        (
            '<media:content url="https://img.example/m.jpg" medium="image">'
            "<media:description>A heron</media:description></media:content>",
            "",
            "https://img.example/m.jpg",
            "A heron",
        ),
        ('<media:thumbnail url="https://img.example/t.jpg"/>', "", "https://img.example/t.jpg", ""),
        (
            '<enclosure url="https://img.example/e.png" type="image/png" length="9"/>',
            "",
            "https://img.example/e.png",
            "",
        ),
        (
            '<enclosure url="https://img.example/a.mp3" type="audio/mpeg" length="9"/>',
            '<p><img src="/pic.jpg" alt="A red barn"></p>',
            "https://n.example/pic.jpg",
            "A red barn",
        ),
        ("", '<img src="javascript:alert(1)" alt="x">', None, ""),
    ],
)
def test_images_and_alt_text(extra: str, description: str, image: str | None, alt: str) -> None:
    story = one(
        rss([Item("Pictured", "https://n.example/p", description=description, extra=extra)])
    )
    assert (story.image_url, story.image_alt) == (image, alt)


def test_non_utf8_encodings_are_decoded() -> None:
    latin = rss(
        [Item("Café au lait in Zürich", "https://n.example/c")], encoding="ISO-8859-1"
    ).encode("iso-8859-1")
    assert one(latin).title == "Café au lait in Zürich"
    cp1252 = rss(
        [Item("\u201cQuoted\u201d \u2013 dash", "https://n.example/q")], encoding="windows-1252"
    ).encode("cp1252")
    assert one(cp1252).title == "\u201cQuoted\u201d \u2013 dash"


def test_an_html_page_is_not_a_feed() -> None:
    page = (
        b"<!DOCTYPE html><html><head><title>502 Bad Gateway</title></head><body>oops</body></html>"
    )
    with pytest.raises(FeedError, match=r"not an RSS or Atom feed.*HTML page"):
        parse_feed(page, FEED_URL, NOW)


def test_hopelessly_malformed_xml_is_an_error() -> None:
    with pytest.raises(FeedError, match=r"not an RSS or Atom feed|malformed"):
        parse_feed(b"<?xml version='1.0'?><<<>>> &&& </rss", FEED_URL, NOW)


def test_billion_laughs_is_refused_before_expansion() -> None:
    entities = '<!ENTITY lol0 "lol">' + "".join(
        f'<!ENTITY lol{i} "{f"&lol{i - 1};" * 10}">' for i in range(1, 10)
    )
    bomb = (
        f'<?xml version="1.0"?><!DOCTYPE rss [{entities}]><rss version="2.0"><channel>'
        "<title>&lol9;</title><item><title>&lol9;</title><link>https://b.example/</link></item>"
        "</channel></rss>"
    ).encode()
    with pytest.raises(FeedError, match="declares XML entities"):
        parse_feed(bomb, FEED_URL, NOW)


def test_external_entities_are_refused_and_no_file_is_read(tmp_path) -> None:  # type: ignore[no-untyped-def]
    secret = tmp_path / "secret.txt"
    secret.write_text("TOP-SECRET-VALUE")
    doc = (
        f'<?xml version="1.0"?><!DOCTYPE rss [<!ENTITY xxe SYSTEM "{secret.as_uri()}">]>'
        '<rss version="2.0"><channel><title>x</title><item><title>A &xxe; B</title>'
        "<link>https://x.example/</link></item></channel></rss>"
    ).encode()
    with pytest.raises(FeedError, match="declares XML entities") as caught:
        parse_feed(doc, FEED_URL, NOW)
    assert "TOP-SECRET" not in str(caught.value)


def test_dates_up_to_now_are_kept() -> None:
    story = one(
        rss([Item("Just now", "https://n.example/now", published=NOW - timedelta(seconds=1))])
    )
    assert story.published_at == NOW - timedelta(seconds=1)
    assert story.dated


def atom(title: str, summary: str, kind: str | None, feed_title: str = "A") -> str:
    """An Atom feed of one entry whose title and summary are written as is, of type `kind`."""
    declared = f' type="{kind}"' if kind else ""
    return (
        '<?xml version="1.0"?><feed xmlns="http://www.w3.org/2005/Atom">'
        f"<title{declared}>{feed_title}</title>"
        f"<entry><title{declared}>{title}</title><link href='https://a.example/1'/>"
        f"<id>urn:x:1</id><updated>2026-11-24T01:00:00Z</updated>"
        f"<summary{declared}>{summary}</summary></entry></feed>"
    )


@pytest.mark.parametrize("kind", ["text", None])  # Atom's type is "text" unless it says so
def test_an_atom_text_title_is_kept_as_written(kind: str | None) -> None:
    story = one(atom("Fish &amp; Chips &lt;Review&gt;", "Cod &lt;and&gt; more &amp;amp;", kind))
    assert story.title == "Fish & Chips <Review>"
    assert story.summary == "Cod <and> more &amp;"


def test_an_atom_text_title_that_looks_like_a_script_is_still_text() -> None:
    # Kept literally: it is text, and whatever shows it escapes it (test_text_is_text.py).
    story = one(
        atom(
            "&lt;script&gt;alert(1)&lt;/script&gt; Council\tmeets\x0b",
            "&lt;img src=x onerror=alert(2)&gt;",
            "text",
            feed_title="&lt;b&gt;Times&lt;/b&gt;",
        )
    )
    assert story.title == "<script>alert(1)</script> Council meets"
    assert story.summary == "<img src=x onerror=alert(2)>"
    assert story.image_url is None  # an <img> in text is no picture
    assert (
        parse_feed(atom("t", "s", "text", "&lt;b&gt;Times&lt;/b&gt;").encode(), FEED_URL, NOW).title
        == "<b>Times</b>"
    )


@pytest.mark.parametrize(
    ("kind", "title"),
    [
        ("html", "Fish &amp;amp; Chips &lt;b&gt;Review&lt;/b&gt;&lt;script&gt;x()&lt;/script&gt;"),
        (
            "xhtml",
            '<div xmlns="http://www.w3.org/1999/xhtml">Fish &amp; Chips <b>Review</b>'
            "<script>x()</script></div>",
        ),
    ],
)
def test_an_atom_html_title_is_cleaned_to_text(kind: str, title: str) -> None:
    story = one(atom(title, "&lt;p onclick='x()'&gt;Cod&lt;br&gt;chips&lt;/p&gt;", kind))
    assert story.title == "Fish & Chips Review"
    if kind == "html":
        assert story.summary == "Cod chips"


@pytest.mark.parametrize(
    ("written", "stored"),
    [
        # feedparser reports text/plain: text, kept as written
        ("Fish & Chips <Review>", "Fish & Chips <Review>"),
        ("5 < 6 and 7 > 3", "5 < 6 and 7 > 3"),
        ("AT&T wins <3", "AT&T wins <3"),
        # feedparser reports text/html (a safe tag closed, or an entity): cleaned
        ("Review: <i>Hamlet</i>", "Review: Hamlet"),
        ("Fish &amp; Chips", "Fish & Chips"),
        # feedparser reports text/plain, but holds HTML it does not call safe: cleaned
        ("Line<br>break", "Line break"),
        ("<img src=x onerror=alert(1)>Photo", "Photo"),
        ('<iframe src="https://evil.example"></iframe>Vote', "Vote"),
    ],
)
def test_an_rss_title_is_text_unless_it_holds_html(written: str, stored: str) -> None:
    assert one(rss([Item(written, "https://n.example/t")])).title == stored


def test_a_feed_declaring_an_unknown_encoding_is_read_or_refused_never_a_crash() -> None:
    body = (
        b"<?xml version='1.0' encoding='bogus-enc'?><rss version='2.0'><channel><title>T</title>"
        b"<item><title>Library opens</title><link>https://x.example/a</link></item>"
        b"</channel></rss>"
    )
    parsed = parse_feed(body, "https://x.example/feed", NOW)
    assert [story.title for story in parsed.stories] == ["Library opens"]
