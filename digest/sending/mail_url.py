"""DIGEST_MAIL_URL: which transport it names, or a one-line ConfigError saying what is wrong."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import unquote, urlsplit

from digest.errors import ConfigError
from digest.sending.maildir import MaildirTransport
from digest.sending.smtp import SCHEMES, SMTPTransport
from digest.sending.transport import Transport
from digest.settings import Settings

URL_HELP = "write it like smtp+starttls://user:password@mail.example:587 or maildir:///var/outbox"


def open_transport(settings: Settings) -> Transport:
    """The transport DIGEST_MAIL_URL names (not yet connected); raises ConfigError."""
    return transport_for_url(
        settings.mail_url,
        timeout=settings.smtp_timeout,
        max_per_connection=settings.smtp_max_per_connection,
    )


def transport_for_url(
    url: str, *, timeout: float = 30.0, max_per_connection: int = 100
) -> Transport:
    """A transport for a mail URL; raises ConfigError naming what is wrong with it."""
    scheme = urlsplit(url).scheme.lower()
    if scheme == "maildir":
        path = url[len("maildir://") :]
        if not url.lower().startswith("maildir://") or not path:
            raise ConfigError(f"DIGEST_MAIL_URL: {url!r} names no directory ({URL_HELP})")
        return MaildirTransport(Path(path))
    if scheme not in SCHEMES:
        raise ConfigError(
            f"DIGEST_MAIL_URL: unknown scheme {scheme!r} "
            "(use smtp, smtp+starttls, smtps or maildir)"
        )
    return _smtp_from_url(url, scheme, timeout, max_per_connection)


def _smtp_from_url(url: str, scheme: str, timeout: float, max_per_connection: int) -> SMTPTransport:
    security, default_port = SCHEMES[scheme]
    parts = urlsplit(url)
    try:
        port = parts.port or default_port
    except ValueError:
        raise ConfigError(f"DIGEST_MAIL_URL: the port is not a number ({URL_HELP})") from None
    if not parts.hostname:
        raise ConfigError(
            f"DIGEST_MAIL_URL: no host in {scheme}:// URL ({URL_HELP}; "
            "a password containing @, : or / must be percent-encoded)"
        )
    if parts.password is not None and not parts.username:
        raise ConfigError(f"DIGEST_MAIL_URL: a password without a user name ({URL_HELP})")
    return SMTPTransport(
        parts.hostname,
        port,
        security=security,
        username=unquote(parts.username) if parts.username else None,
        password=unquote(parts.password) if parts.password is not None else None,
        timeout=timeout,
        max_per_connection=max_per_connection,
    )
