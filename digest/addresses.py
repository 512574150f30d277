"""Email addresses: one normal form per reader, and the hash that outlives an erased address.

Policy for internationalized addresses: a domain in any script is accepted and stored in its
ASCII (IDNA) form, so every SMTP server can deliver to it (`jane@bücher.de` is stored as
`jane@xn--bcher-kva.de`). Non-ASCII characters before the @ need SMTPUTF8 all the way to the
reader's mailbox, which Digest cannot promise, so such addresses are refused with a message
that says so. The whole address is lower-cased: mailbox providers treat local parts
case-insensitively in practice, and one reader must not become two subscribers.
"""

from __future__ import annotations

import hashlib
import re
from functools import lru_cache

from email_validator import EmailNotValidError, validate_email

from digest.errors import DigestError
from digest.i18n import translatable

MAX_LENGTH = 254

# Misspellings of the biggest mailbox providers' domains that readers really type; each of
# these domains receives mail for nobody the reader knows.
DOMAIN_TYPOS = {
    "gmial.com": "gmail.com",
    "gmal.com": "gmail.com",
    "gmai.com": "gmail.com",
    "gamil.com": "gmail.com",
    "gnail.com": "gmail.com",
    "gmail.co": "gmail.com",
    "gmail.con": "gmail.com",
    "hotmial.com": "hotmail.com",
    "hotmal.com": "hotmail.com",
    "hotmail.con": "hotmail.com",
    "yahooo.com": "yahoo.com",
    "yaho.com": "yahoo.com",
    "yahoo.con": "yahoo.com",
    "outlok.com": "outlook.com",
    "outloo.com": "outlook.com",
    "iclod.com": "icloud.com",
    "icloud.con": "icloud.com",
}


class AddressError(DigestError):
    """An address that cannot be used; the message tells the reader what to fix."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.reader_message = message  # a Translatable: shown in the reader's language


# A plain ASCII local part (RFC 5322 dot-atom): the common case, checked without the full
# validator so that an import of 100,000 rows validates each domain once (see _domain).
_DOT_ATOM = re.compile(r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*")


@lru_cache(maxsize=4096)
def _domain(domain: str) -> str | None:
    """The normal form of a domain as the validator gives it, or None when it is refused."""
    try:
        result = validate_email(f"x@{domain}", check_deliverability=False, allow_smtputf8=False)
    except EmailNotValidError:
        return None
    return str(result.ascii_domain or result.domain).lower()


def normalize_email(raw: str) -> str:
    """The address in Digest's normal form (see the module's policy); raises AddressError."""
    candidate = raw.strip()
    if not candidate:
        raise AddressError(translatable("Please enter your email address."))
    if len(candidate) > MAX_LENGTH:
        raise AddressError(
            translatable("That email address is too long (at most {n} characters).", n=MAX_LENGTH)
        )
    local, at, domain = candidate.rpartition("@")
    if at and len(local) <= 64 and _DOT_ATOM.fullmatch(local):
        normal_domain = _domain(domain.lower())
        if normal_domain is not None and normal_domain not in DOMAIN_TYPOS:
            return f"{local.lower()}@{normal_domain}"
    try:
        result = validate_email(candidate, check_deliverability=False, allow_smtputf8=False)
    except EmailNotValidError as exc:
        raise AddressError(_reader_message(candidate, str(exc))) from None
    normal = (result.ascii_email or result.normalized).lower()
    local, _, domain = normal.rpartition("@")
    if domain in DOMAIN_TYPOS:
        suggestion = f"{local}@{DOMAIN_TYPOS[domain]}"
        raise AddressError(
            translatable(
                "Please check your email address: did you mean {address}?", address=suggestion
            )
        )
    return normal


def _reader_message(candidate: str, detail: str) -> str:
    local = candidate.rpartition("@")[0]
    if "@" in candidate and not local.isascii():
        return translatable(
            "Addresses with accented or non-Latin letters before the @ cannot be accepted: "
            "not every mail server can deliver to them. Please use another address."
        )
    # The validator's detail is in English; a translation may leave it out.
    return translatable("Please check your email address: {detail}", detail=detail)


def email_hash(normal_email: str) -> str:
    """SHA-256 hex of a normalized address: what a suppression keeps after an erasure."""
    return hashlib.sha256(normal_email.encode("utf-8")).hexdigest()
