"""Fetching feed documents: http(s) with httpx, and file:// for feeds on local disk.

Many feeds are fetched at once (asyncio, a bounded number in flight). Each fetch has a total
deadline, a size cap counted on the decoded body, a bounded number of redirects and
conditional headers, so an unchanged feed costs one 304. A fetch never raises: what went
wrong is in `Fetched.error`, worded for the editor who reads the feed's health. A file:// feed
is read only from the folders DIGEST_FEED_FILES_DIR names, so no feed URL can read other files
(/etc/passwd, the secret key) into stories. Unless DIGEST_FETCH_PRIVATE_ADDRESSES allows it
(by default outside prod), every request, each redirect included, must name a host whose
addresses are all public: no loopback, private, link-local (cloud metadata) or shared
addresses, so a feed or an editor cannot make the server read an internal service. (The name
is resolved for the check and again to connect; a DNS server that answers differently the
second time could still steer one request.)
"""

from __future__ import annotations

import asyncio
import ipaddress
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from email.utils import formatdate
from pathlib import Path
from typing import Literal
from urllib.parse import unquote, urlsplit

import httpx

from digest import __version__
from digest.settings import Settings

OK: Literal["ok"] = "ok"
NOT_MODIFIED: Literal["not_modified"] = "not_modified"
ERROR: Literal["error"] = "error"
FetchStatus = Literal["ok", "not_modified", "error"]


@dataclass(frozen=True)
class FetchRequest:
    url: str
    etag: str | None = None
    last_modified: str | None = None


@dataclass(frozen=True)
class Fetched:
    """The outcome of one fetch: a body (ok), nothing new (not_modified), or an error."""

    url: str
    status: FetchStatus
    body: bytes = b""
    content_type: str | None = None
    etag: str | None = None
    last_modified: str | None = None
    error: str | None = None


@dataclass(frozen=True)
class FetchOptions:
    timeout: float = 20.0  # seconds for the whole fetch, redirects and body included
    max_bytes: int = 5_000_000  # decoded body size above which the feed is refused
    max_redirects: int = 5
    concurrency: int = 16  # fetches in flight at once
    user_agent: str = f"Digest/{__version__} (newsletter digests; feed reader)"
    # Folders file:// feeds may be read from; none means no file:// feed is read at all.
    file_roots: tuple[Path, ...] = ()
    allow_private: bool = True  # may a request reach a non-public address?

    @classmethod
    def from_settings(cls, settings: Settings) -> FetchOptions:
        return cls(
            timeout=settings.feed_timeout,
            max_bytes=settings.feed_max_bytes,
            concurrency=settings.feed_concurrency,
            user_agent=f"Digest/{__version__} (+{settings.base_url})",
            file_roots=tuple(settings.feed_file_folders()),
            allow_private=settings.private_fetches_allowed(),
        )


def fetch_many(
    requests: Sequence[FetchRequest],
    options: FetchOptions,
    on_fetched: Callable[[Fetched], None] | None = None,
) -> list[Fetched]:
    """Fetch every request concurrently; results in the order of `requests`."""
    return asyncio.run(fetch_all(requests, options, on_fetched))


async def fetch_all(
    requests: Sequence[FetchRequest],
    options: FetchOptions,
    on_fetched: Callable[[Fetched], None] | None = None,
) -> list[Fetched]:
    """The coroutine behind fetch_many, for callers already inside an event loop."""
    gate = asyncio.Semaphore(options.concurrency)
    async with httpx.AsyncClient(
        follow_redirects=True,
        max_redirects=options.max_redirects,
        timeout=httpx.Timeout(options.timeout),
        headers={"User-Agent": options.user_agent, "Accept": _ACCEPT},
        limits=httpx.Limits(max_connections=options.concurrency),
        trust_env=False,  # a proxy from the environment must not see or reroute feed traffic
        event_hooks={} if options.allow_private else {"request": [refuse_non_public]},
    ) as client:

        async def one(request: FetchRequest) -> Fetched:
            async with gate:
                result = await fetch_one(client, request, options)
            if on_fetched is not None:
                on_fetched(result)
            return result

        return list(await asyncio.gather(*(one(request) for request in requests)))


class PrivateAddressError(httpx.RequestError):
    """A request to a host that is not on the public internet, while that is not allowed."""


async def refuse_non_public(request: httpx.Request) -> None:
    """httpx's request hook (each redirect too): refuse a host with a non-public address."""
    host = request.url.host
    try:
        found = await asyncio.get_running_loop().getaddrinfo(host, request.url.port or 443)
    except OSError:
        return  # the connection attempt reports the unknown name in its own words
    for *_, address in found:
        ip = ipaddress.ip_address(str(address[0]).split("%")[0])
        mapped = ip.ipv4_mapped if isinstance(ip, ipaddress.IPv6Address) else None
        if not (mapped or ip).is_global or ip.is_multicast:
            raise PrivateAddressError(
                f"{host} is not a public address; feeds from private networks need "
                "DIGEST_FETCH_PRIVATE_ADDRESSES=true",
                request=request,
            )


_ACCEPT = (
    "application/rss+xml, application/atom+xml, application/rdf+xml, application/xml;q=0.9, "
    "text/xml;q=0.9, application/json;q=0.8, text/csv;q=0.8, */*;q=0.1"
)


async def fetch_one(
    client: httpx.AsyncClient, request: FetchRequest, options: FetchOptions
) -> Fetched:
    """Fetch one URL (http, https or file); never raises."""
    scheme = urlsplit(request.url).scheme.lower()
    if scheme == "file":
        return read_file(request, options)
    if scheme not in ("http", "https"):
        return _failed(request, f"unsupported URL scheme {scheme!r} (use http, https or file)")
    try:
        return await asyncio.wait_for(_get(client, request, options), options.timeout)
    except (TimeoutError, httpx.TimeoutException):
        return _failed(request, f"timed out after {options.timeout:g} s")
    except httpx.TooManyRedirects:
        return _failed(request, f"too many redirects (more than {options.max_redirects})")
    except httpx.HTTPError as exc:
        return _failed(request, f"{type(exc).__name__}: {exc}")


async def _get(client: httpx.AsyncClient, request: FetchRequest, options: FetchOptions) -> Fetched:
    headers = {}
    if request.etag:
        headers["If-None-Match"] = request.etag
    if request.last_modified:
        headers["If-Modified-Since"] = request.last_modified
    async with client.stream("GET", request.url, headers=headers) as response:
        if response.status_code == httpx.codes.NOT_MODIFIED:
            return Fetched(
                request.url, NOT_MODIFIED, etag=request.etag, last_modified=request.last_modified
            )
        if response.status_code >= 400:
            return _failed(request, f"HTTP {response.status_code} {response.reason_phrase}")
        if response.status_code != httpx.codes.OK:
            return _failed(request, f"unexpected HTTP {response.status_code}")
        declared = response.headers.get("Content-Length", "")
        if declared.isdigit() and int(declared) > options.max_bytes:
            return _too_large(request, options)
        chunks: list[bytes] = []
        size = 0
        async for chunk in response.aiter_bytes():
            size += len(chunk)
            if size > options.max_bytes:
                return _too_large(request, options)
            chunks.append(chunk)
        return Fetched(
            request.url,
            OK,
            body=b"".join(chunks),
            content_type=response.headers.get("Content-Type"),
            etag=response.headers.get("ETag"),
            last_modified=response.headers.get("Last-Modified"),
        )


def read_file(request: FetchRequest, options: FetchOptions) -> Fetched:
    """A file:// feed, only from a folder of `options.file_roots`; its modification time stands
    in for Last-Modified."""
    parts = urlsplit(request.url)
    path = Path(unquote(parts.path))
    if parts.netloc not in ("", "localhost") or not _inside(path, options.file_roots):
        folders = "the folders file:// feeds are read from (DIGEST_FEED_FILES_DIR)"
        return _failed(request, f"{path} is outside {folders}")
    try:
        stat = path.stat()
        modified = formatdate(stat.st_mtime, usegmt=True)
        if request.last_modified == modified:
            return Fetched(request.url, NOT_MODIFIED, last_modified=modified)
        if stat.st_size > options.max_bytes:
            return _too_large(request, options)
        body = path.read_bytes()
    except OSError as exc:
        return _failed(request, f"cannot read {path}: {exc.strerror or exc}")
    if len(body) > options.max_bytes:
        return _too_large(request, options)
    return Fetched(request.url, OK, body=body, last_modified=modified)


def _inside(path: Path, roots: Sequence[Path]) -> bool:
    # Resolved first, so neither "..", nor a symlink, nor a relative path leads out of a root.
    try:
        real = path.resolve()
    except (OSError, RuntimeError):
        return False
    return path.is_absolute() and any(real.is_relative_to(root.resolve()) for root in roots)


def _failed(request: FetchRequest, error: str) -> Fetched:
    return Fetched(request.url, ERROR, error=error)


def _too_large(request: FetchRequest, options: FetchOptions) -> Fetched:
    return _failed(
        request, f"larger than {options.max_bytes:,} bytes (raise DIGEST_FEED_MAX_BYTES to allow)"
    )
