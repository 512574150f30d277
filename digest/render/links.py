"""The reader's links in every email: confirm, unsubscribe, preferences (signed, no login).

Token payloads, as `digest.tokens.read_token` gives them back to the web app: {"s": subscriber
id} and, for an unsubscribe from one newsletter, {"s": subscriber id, "n": newsletter id}. The
unsubscribe and preferences tokens, in every digest, are the cheap compact kind.
"""

from __future__ import annotations

from datetime import datetime
from urllib.parse import quote, urlencode, urlsplit, urlunsplit

from digest.ingest.click_links import TrackedLink, make_link_token, make_tag
from digest.settings import Settings
from digest.tokens import (
    CONFIRM,
    EMAIL_CHANGE,
    KEEP,
    PREFERENCES,
    UNSUBSCRIBE,
    make_compact,
    make_token,
    unsubscribe_mail_address,
)


def confirm_url(settings: Settings, subscriber_id: int) -> str:
    """`{base_url}/confirm/{token}`: opens a page whose button confirms (expires in 7 days)."""
    return f"{settings.base_url}/confirm/{make_token(settings, CONFIRM, {'s': subscriber_id})}"


def unsubscribe_token(
    settings: Settings, subscriber_id: int, newsletter_id: int | None = None
) -> str:
    """The signed token of an unsubscribe link: one newsletter with its id, else every one."""
    return make_compact(settings, UNSUBSCRIBE, (subscriber_id, newsletter_id or 0))


def unsubscribe_url(
    settings: Settings, subscriber_id: int, newsletter_id: int | None = None
) -> str:
    """`{base_url}/u/{token}`: the List-Unsubscribe URL (GET shows a page, POST unsubscribes).

    With a newsletter id it leaves that newsletter only; without, every newsletter.
    """
    return unsubscribe_url_for(settings, unsubscribe_token(settings, subscriber_id, newsletter_id))


def unsubscribe_url_for(settings: Settings, token: str) -> str:
    """`{base_url}/u/{token}` for a token from `unsubscribe_token`."""
    return f"{settings.base_url}/u/{token}"


def unsubscribe_mailto(
    settings: Settings, subscriber_id: int, newsletter_id: int | None = None
) -> str:
    """The mailto half of List-Unsubscribe (`digest.tokens.unsubscribe_mail_address`).

    Mail to it reaches the bounce mailbox, where `digest.bounces` unsubscribes the reader.
    """
    address = unsubscribe_mail_address(settings, subscriber_id, newsletter_id)
    return f"mailto:{address}?subject=unsubscribe"


def email_change_url(settings: Settings, subscriber_id: int, new_email: str) -> str:
    """`{base_url}/email/{token}`: confirms the new address the token names (sent to it)."""
    token = make_token(settings, EMAIL_CHANGE, {"s": subscriber_id, "e": new_email})
    return f"{settings.base_url}/email/{token}"


def preferences_url(settings: Settings, subscriber_id: int) -> str:
    """`{base_url}/preferences/{token}`: the preferences centre (town, newsletters)."""
    token = make_compact(settings, PREFERENCES, (subscriber_id,))
    return f"{settings.base_url}/preferences/{token}"


def keep_url(settings: Settings, subscriber_id: int, newsletter_id: int, sent_at: datetime) -> str:
    """`{base_url}/keep/{token}`: "keep me subscribed" in a re-engagement email (a year).

    The token holds when the email was sent, so a scanner clicking on arrival is told apart.
    """
    payload = {"s": subscriber_id, "n": newsletter_id, "t": int(sent_at.timestamp())}
    return f"{settings.base_url}/keep/{make_token(settings, KEEP, payload)}"


def signup_url(settings: Settings, newsletter_slug: str | None = None) -> str:
    """`{base_url}/`: the hosted signup form; for one newsletter `{base_url}/?newsletter=SLUG`,
    which ticks it and speaks its language."""
    if newsletter_slug:
        return f"{settings.base_url}/?{urlencode({'newsletter': newsletter_slug})}"
    return f"{settings.base_url}/"


def archive_url(settings: Settings, newsletter_slug: str | None = None) -> str:
    """`{base_url}/archive/`, or one newsletter's past editions `{base_url}/archive/{slug}/`."""
    if newsletter_slug is None:
        return f"{settings.base_url}/archive/"
    return f"{settings.base_url}/archive/{quote(newsletter_slug, safe='')}/"


def web_version_url(
    settings: Settings, newsletter_slug: str, edition_id: int, community_slug: str
) -> str:
    """`{base_url}/archive/{slug}/{edition_id}/{town}`: an edition's web version for a town."""
    town = quote(community_slug, safe="")
    return f"{archive_url(settings, newsletter_slug)}{edition_id}/{town}"


# Tracked links (first-party click analytics, docs/analytics.md)

# Left after every tracked link and filled per message by digest.render.mime with
# `click_tag` (the send time, the delivery's pseudonym, and the reader only with per-reader
# engagement), or removed.
CLICK_TAG = "__DIGEST_CLICK_TAG__"


def tracked_url(
    settings: Settings,
    target: str,
    edition_id: int,
    community_id: int,
    link_kind: str,
    item_id: int | None = None,
    utm: str = "",
) -> str:
    """The link a reader sees for `target` in one edition and town: `{base_url}/r/{token}`.

    `link_kind` is "story", "sponsor" or "web" (view in browser); `item_id` names what is
    counted (the story id, the sponsor's creative id). `utm` ("utm_source=...&...") is added to
    the target first. With DIGEST_CLICK_TRACKING off, the target itself is returned. The
    result ends in CLICK_TAG: use it in a segment's HTML or text, which mime fills per reader.
    Raises ValueError for an unknown kind.
    """
    target = with_utm(target, utm)
    if not settings.click_tracking:
        return target
    link = TrackedLink(edition_id, community_id, link_kind, item_id, target)
    return f"{settings.base_url}/r/{make_link_token(settings, link)}{CLICK_TAG}"


def click_tag(
    settings: Settings,
    sent_at: datetime,
    subscriber_id: int | None,
    delivery_id: int | None = None,
) -> str:
    """What replaces CLICK_TAG in one message; `subscriber_id` only for per-reader engagement.

    `delivery_id` (a digest message) adds the delivery's pseudonym, for unique clickers.
    """
    if not settings.click_tracking:
        return ""
    reader = subscriber_id if settings.click_per_reader else None
    return make_tag(settings, sent_at, reader, delivery_id)


def with_utm(url: str, utm: str) -> str:
    """`url` with the newsletter's UTM parameters added (kept as given when it has them)."""
    utm = utm.strip().lstrip("?&")
    if not utm:
        return url
    parts = urlsplit(url)
    present = {pair.split("=")[0] for pair in parts.query.split("&") if pair}
    extra = "&".join(pair for pair in utm.split("&") if pair and pair.split("=")[0] not in present)
    if not extra:
        return url
    query = f"{parts.query}&{extra}" if parts.query else extra
    return urlunsplit((parts.scheme, parts.netloc, parts.path, query, parts.fragment))
