"""All configuration, read once from the environment (prefix DIGEST_) and `.env`.

Every field here is documented in `.env.example`; tests/test_settings.py keeps the two in step.
"""

from __future__ import annotations

import ipaddress
import os
import secrets
from functools import lru_cache
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit

from pydantic import Field, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from digest.errors import ConfigError

ENV_PREFIX = "DIGEST_"

DATABASE_SCHEMES = ("sqlite", "postgresql")
BROKER_SCHEMES = ("redis", "rediss", "amqp", "filesystem")
REDIS_SCHEMES = ("redis", "rediss", "unix")
MAIL_SCHEMES = ("smtp", "smtp+starttls", "smtps", "maildir")

# Values that have been published (in .env.example, docs) and so are no secret at all.
PUBLIC_SECRETS = frozenset({"", "change-me", "changeme", "secret", "dev"})


def _scheme(url: str) -> str:
    return urlsplit(url).scheme.lower()


def _check_scheme(url: str, allowed: tuple[str, ...]) -> str:
    base = _scheme(url).split("+")[0] if not _scheme(url).startswith("smtp") else _scheme(url)
    if base not in allowed:
        raise ValueError(f"unknown scheme {_scheme(url)!r} (use {', '.join(allowed)})")
    return url


class Settings(BaseSettings):
    """Digest's settings. Defaults run everything on one machine with no server to install."""

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX, env_file=".env", env_file_encoding="utf-8", extra="ignore"
    )

    # dev generates a secret into var/ and allows the demo; prod refuses unsafe defaults.
    env: Literal["dev", "test", "prod"] = "dev"
    # Working files of the embedded mode: generated secret, embedded broker queues, beat state.
    var_dir: Path = Path("var")
    # SQLAlchemy URL; postgresql:// is read as postgresql+psycopg://.
    database_url: str = "sqlite:///var/digest.db"
    # Celery broker; empty means the embedded filesystem broker under var/broker.
    broker_url: str | None = None
    # Redis for limits shared by every process; empty means limits are kept per process.
    redis_url: str | None = None
    # Where mail goes: maildir://PATH, smtp://, smtp+starttls:// or smtps://user:pass@host:port.
    mail_url: str = "maildir://var/outbox"
    # Public URL of the web app, used in every link of every email.
    base_url: str = "http://127.0.0.1:8000"
    # Proxies whose X-Forwarded-For `digest web` believes (addresses or networks, commas; "*"
    # only when nothing else can reach the app); empty: uvicorn's FORWARDED_ALLOW_IPS, else
    # 127.0.0.1. Login throttles and signup limits count the client address it gives.
    forwarded_allow_ips: str | None = None
    # Signs tokens in links; generated into var/secret_key in dev, required outside dev.
    secret_key: str | None = Field(default=None, repr=False)
    # The key before the last rotation: links it signed keep working.
    secret_key_previous: str | None = Field(default=None, repr=False)
    # The publisher's From, with display name.
    sender: str = "Digest <news@localhost>"
    # The publisher's postal address, shown in every email's footer (CASL).
    postal_address: str = "Digest Demo News, 100 Main Street, Springfield, OR 97477, USA"
    # Domain of the VERP return path bounces+TOKEN@DOMAIN.
    bounce_domain: str = "localhost"
    # Deliveries per send_batch task: one SMTP connection and one claim per batch.
    batch_size: int = Field(default=500, ge=1)
    # Results recorded per commit; a worker crash repeats at most this many messages.
    delivery_commit_every: int = Field(default=10, ge=1)
    # Seconds a claimed delivery stays with its batch unless renewed; a working batch renews it
    # every fifth of this, so a dead worker's rows are taken back within about this long.
    delivery_lease_seconds: int = Field(default=30, ge=1)
    # Seconds between sweeps (beat) that hand expired leases, due retries and lost work out again.
    delivery_sweep_seconds: float = Field(default=10.0, gt=0)
    # Refusals or drops in a row (no message accepted in between) after which an edition pauses
    # itself, with the reason, instead of burning through the list (0 = never).
    delivery_breaker_threshold: int = Field(default=50, ge=0)
    # Days the deliveries of a finished edition are kept; older ones are folded into counts per
    # edition, town and state, and deleted.
    delivery_retention_days: int = Field(default=90, ge=1)
    # Deliveries deleted per transaction by the retention purge (short locks, small WAL bursts).
    delivery_purge_batch: int = Field(default=5000, ge=1)
    # First retry of a deferred delivery after this many seconds, doubling each attempt.
    retry_base_seconds: int = Field(default=60, ge=1)
    # A delivery still deferred this many hours after it was queued fails for good.
    retry_max_age_hours: int = Field(default=24, ge=1)
    # Log level of every process: DEBUG, INFO, WARNING or ERROR.
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    # Log format: text for people, json (one object per line) for log collectors.
    log_format: Literal["text", "json"] = "text"
    # A slot found late (after downtime) is still sent if at most this many minutes late.
    schedule_grace_minutes: int = Field(default=120, ge=0)
    # A newsletter held for approval has each edition built this many minutes before its slot.
    approval_lead_minutes: int = Field(default=60, ge=0)
    # The day weekly readers get the week's best, at the newsletter's usual time.
    weekly_day: Literal[
        "monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"
    ] = "sunday"
    # Breaking-news alerts one reader gets at most per day (their town's time), all alerts.
    alert_daily_cap: int = Field(default=3, ge=1)
    # Origins (comma-separated) whose pages may call the signup API: the publisher's sites.
    cors_origins: str = ""
    # Version of the consent wording on the signup form; recorded with every consent event.
    consent_wording_version: str = "2026-11"
    # Signups and address changes allowed per client IP, `limits` notation ("20/hour").
    signup_limit_per_ip: str = "20/hour"
    # Signups and address changes allowed per (new) email address, counted together.
    signup_limit_per_address: str = "5/hour"
    # A confirmation email is sent again to the same reader at most once per this many minutes;
    # a reader may ask for a new address once per this many minutes.
    confirm_resend_minutes: int = Field(default=15, ge=0)
    # A signup form sent back faster than this many seconds after it was shown is a bot's.
    signup_min_fill_seconds: float = Field(default=2.0, ge=0)
    # Largest request body the web app reads, in bytes; larger ones get 413.
    max_body_bytes: int = Field(default=16384, ge=1024)
    # Messages per second through one transport, counted across every worker (0 = unlimited).
    send_rate: int = Field(default=0, ge=0)
    # Seconds an SMTP connect or reply may take before the message is deferred.
    smtp_timeout: float = Field(default=30.0, gt=0)
    # Messages sent over one SMTP connection before it is closed and opened again (0 = no cap).
    smtp_max_per_connection: int = Field(default=100, ge=0)
    # Mailbox where bounces and complaints arrive: maildir://PATH; empty means none is read.
    bounce_mailbox_url: str | None = None
    # Shared secret a relay sends as "Authorization: Bearer ..." to POST /api/bounces/RELAY;
    # empty turns the bounce webhook off.
    bounce_webhook_token: str | None = Field(default=None, repr=False)
    # Soft bounces (recipient-side: full mailbox, disabled account, expired...) in distinct
    # editions after which an address is suppressed with reason "soft-bounce limit".
    soft_bounce_limit: int = Field(default=3, ge=1)
    # ...but only once the first and the last of them are at least this many days apart.
    soft_bounce_days: int = Field(default=7, ge=0)
    # Soft bounces older than this many days are forgotten (a reader who bounced on holiday
    # last spring starts from zero).
    soft_bounce_window_days: int = Field(default=30, ge=1)
    # Amazon SES via SNS: the topic ARNs (comma-separated) whose notifications are accepted at
    # POST /api/webhooks/ses; empty turns that webhook off.
    ses_topic_arns: str | None = None
    # SendGrid Event Webhook: the verification key (base64 public key) of its signed events,
    # for POST /api/webhooks/sendgrid; empty turns that webhook off.
    sendgrid_webhook_public_key: str | None = None
    # Mailgun: the HTTP webhook signing key, for POST /api/webhooks/mailgun; empty turns it off.
    mailgun_signing_key: str | None = Field(default=None, repr=False)
    # Postmark: the basic-auth user:password set in the webhook's URL, for
    # POST /api/webhooks/postmark; empty turns that webhook off.
    postmark_webhook_auth: str | None = Field(default=None, repr=False)
    # Seconds one feed fetch may take in all (connect, redirects, body) before it counts as failed.
    feed_timeout: float = Field(default=20.0, gt=0)
    # Largest feed body read, in bytes; a larger feed is refused and reported.
    feed_max_bytes: int = Field(default=5_000_000, ge=1024)
    # Feeds fetched at the same time by one poll.
    feed_concurrency: int = Field(default=16, ge=1)
    # Folders (separated by ":") from which file:// feeds may be read; no other file is read.
    # Empty means VAR_DIR/feeds, the demo's copies in VAR_DIR/demo-feeds, and the demo feeds
    # shipped with the package.
    feed_files_dir: str = ""
    # Feeds and the desk's story pages may be fetched from private, loopback and link-local
    # addresses (an intranet feed, a feed server on this machine). Empty: yes outside prod, no
    # in prod, where a feed or an editor could otherwise make the server read internal services.
    fetch_private_addresses: bool | None = None
    # Story, sponsor and "view in browser" links go through the counted redirect /r/<token>;
    # off: no link is tracked, every link points straight at its target.
    click_tracking: bool = True
    # Clicks are also kept per reader (engagement), unless the reader opts out in preferences;
    # off (the default): only aggregates per edition, town and link, with no reader identity.
    click_per_reader: bool = False
    # A click this many seconds or less after its message was sent is a scanner's, not counted.
    click_scanner_seconds: int = Field(default=10, ge=0)
    # This many different links from one client within one second: a scanner, not counted.
    click_burst_links: int = Field(default=3, ge=2)
    # Seconds a web process keeps click counts in memory before flushing them in one batch.
    click_flush_seconds: float = Field(default=1.0, gt=0)
    # Days per-reader click events are kept (aggregates are kept with their edition).
    click_event_retention_days: int = Field(default=90, ge=1)
    # Hours of clicks that make the newsletter's "most read" ranking.
    click_popularity_window_hours: int = Field(default=48, ge=1)
    # Share of newsletter clicks in a story's popularity: 0 = the site's figures alone,
    # 1 = newsletter clicks alone, between = a blend of the two.
    click_popularity_weight: float = Field(default=0.5, ge=0, le=1)

    @field_validator("database_url")
    @classmethod
    def _database_url(cls, value: str) -> str:
        _check_scheme(value, DATABASE_SCHEMES)
        if _scheme(value) == "postgresql":
            return "postgresql+psycopg" + value[len("postgresql") :]
        return value

    @field_validator("broker_url", "redis_url", "bounce_mailbox_url")
    @classmethod
    def _optional_url(cls, value: str | None) -> str | None:
        return value or None

    @field_validator("bounce_mailbox_url")
    @classmethod
    def _bounce_mailbox_url(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith("maildir://"):
            raise ValueError(f"{value!r} is not a mailbox (write it like maildir:///var/bounces)")
        return value

    @field_validator("broker_url")
    @classmethod
    def _broker_url(cls, value: str | None) -> str | None:
        return None if value is None else _check_scheme(value, BROKER_SCHEMES)

    @field_validator("redis_url")
    @classmethod
    def _redis_url(cls, value: str | None) -> str | None:
        return None if value is None else _check_scheme(value, REDIS_SCHEMES)

    @field_validator("mail_url")
    @classmethod
    def _mail_url(cls, value: str) -> str:
        return _check_scheme(value, MAIL_SCHEMES)

    @field_validator("forwarded_allow_ips")
    @classmethod
    def _forwarded_allow_ips(cls, value: str | None) -> str | None:
        for item in (i.strip() for i in (value or "").split(",") if i.strip()):
            if item == "*":
                continue
            try:
                ipaddress.ip_network(item, strict=False)
            except ValueError:
                raise ValueError(
                    f"{item!r} is not an IP address or network (write 10.0.0.5, 10.0.0.0/8 or *)"
                ) from None
        return value.strip() if value and value.strip() else None

    @field_validator("signup_limit_per_ip", "signup_limit_per_address")
    @classmethod
    def _rate_limit(cls, value: str) -> str:
        from limits import parse

        try:
            parse(value)
        except ValueError:
            raise ValueError(f"{value!r} is not a rate limit (write it like 20/hour)") from None
        return value

    @field_validator("cors_origins")
    @classmethod
    def _cors_origins(cls, value: str) -> str:
        for origin in (o.strip() for o in value.split(",") if o.strip()):
            parts = urlsplit(origin)
            if (
                parts.scheme not in ("http", "https")
                or not parts.netloc
                or parts.path not in ("", "/")
            ):
                raise ValueError(
                    f"{origin!r} is not an origin (write it like https://news.example)"
                )
        return value

    @property
    def cors_origin_list(self) -> list[str]:
        """The signup API's allowed origins, without trailing slashes."""
        return [o.strip().rstrip("/") for o in self.cors_origins.split(",") if o.strip()]

    @field_validator("base_url")
    @classmethod
    def _base_url(cls, value: str) -> str:
        if _scheme(value) not in ("http", "https") or not urlsplit(value).netloc:
            raise ValueError(f"{value!r} is not an http(s) URL")
        return value.rstrip("/")

    def feed_file_folders(self) -> list[Path]:
        """The folders file:// feeds may be read from (see feed_files_dir)."""
        if self.feed_files_dir.strip():
            return [Path(p) for p in self.feed_files_dir.split(os.pathsep) if p.strip()]
        packaged = Path(__file__).parent / "demo" / "feeds"
        return [self.var_dir / "feeds", self.var_dir / "demo-feeds", packaged]

    @property
    def is_dev(self) -> bool:
        return self.env != "prod"

    def private_fetches_allowed(self) -> bool:
        """May feeds and pages be fetched from non-public addresses (see the setting)?"""
        if self.fetch_private_addresses is None:
            return self.is_dev
        return self.fetch_private_addresses

    def signing_key(self) -> str:
        """The secret that signs tokens; in dev, created once under var_dir and reused."""
        if self.secret_key and self.secret_key not in PUBLIC_SECRETS:
            return self.secret_key
        if not self.is_dev:
            raise ConfigError(
                "DIGEST_SECRET_KEY: a real secret is required when DIGEST_ENV=prod "
                '(generate one with: python -c "import secrets; print(secrets.token_urlsafe(32))")'
            )
        path = self.var_dir / "secret_key"
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(secrets.token_urlsafe(32))
            path.chmod(0o600)
        return path.read_text().strip()

    def check(self) -> Settings:
        """Fail fast on settings that cannot work; returns self."""
        self.signing_key()
        return self


def env_name(field: str) -> str:
    return ENV_PREFIX + field.upper()


def load_settings(**overrides: object) -> Settings:
    """Read and check the settings; raises ConfigError with one line naming the setting."""
    try:
        settings = Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        first = exc.errors()[0]
        field = str(first["loc"][0]) if first["loc"] else "?"
        message = str(first["msg"]).removeprefix("Value error, ")
        raise ConfigError(f"{env_name(field)}: {message}") from None
    return settings.check()


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings (cached; tests call get_settings.cache_clear())."""
    return load_settings()
