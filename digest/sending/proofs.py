"""Test sends ("proofs"): one town's segment of an edition, mailed to an editor's address.

Exactly the frozen segment a reader gets, marked as a test: the subject starts with "[TEST]"
and an `X-Digest-Test` header says so. No delivery row is written and nothing is counted;
the envelope sender is the plain bounce address, so a bounce matches no reader. The SMTP
conversation happens outside any transaction: the shell reads the segment first.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime

from sqlalchemy.orm import Session

from digest.addresses import normalize_email
from digest.errors import DigestError
from digest.models import Community, Edition, Newsletter
from digest.render.mime import Reader, compose, segment_template
from digest.sending.mail_url import open_transport
from digest.sending.shaping import segment_for
from digest.sending.transport import SendResult, SendStatus
from digest.settings import Settings

TEST_PREFIX = "[TEST] "
TEST_HEADER = b"X-Digest-Test: yes (a test send: no delivery recorded, not counted)\r\n"


@dataclass(frozen=True)
class Proof:
    """What a test send needs, read in a transaction and used after it closed."""

    newsletter: Newsletter
    edition_id: int
    segment_id: int
    subject: str
    html: str
    text: str


def prepare_proof(session: Session, edition: Edition, town: Community) -> Proof:
    """The town's frozen segment; raises DigestError when the town has nothing to send."""
    segment = segment_for(session, edition, town)
    if segment.skip_reason is not None or not segment.html:
        raise DigestError(
            f"edition {edition.id} has nothing to send in {town.slug}: {segment.skip_reason}"
        )
    # The sessions keep loaded values after commit (expire_on_commit=False): usable later.
    return Proof(
        edition.newsletter, edition.id, segment.id, segment.subject, segment.html, segment.text
    )


def send_proof(settings: Settings, proof: Proof, address: str, now: datetime) -> SendResult:
    """Mail the proof to `address` (no transaction may be open); raises DigestError in words."""
    email = normalize_email(address)  # AddressError (a DigestError) says what is wrong
    template = segment_template(
        settings,
        proof.newsletter,
        subject=TEST_PREFIX + proof.subject,
        html=proof.html,
        text=proof.text,
        message_key=f"test.e{proof.edition_id}.s{proof.segment_id}",
        date=now,
    )
    template = replace(template, head=TEST_HEADER + template.head)
    message = compose(template, Reader(None, 0, email, None), now)
    with open_transport(settings) as transport:
        result = transport.send(message.mail_from, email, message.data)
    if result.status != SendStatus.SENT:
        raise DigestError(f"the test send to {email} did not go: {result.reply}")
    return result
