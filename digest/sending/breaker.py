"""The circuit breaker: an edition that the relay keeps refusing pauses itself.

Bad credentials, a quota reached, a 421 storm or a block of our own sending look the same
from a batch: message after message deferred or refused, none accepted. After
DIGEST_DELIVERY_BREAKER_THRESHOLD of those in a row the batch stops, pauses the edition with
the reason (shown by `digest edition status` and /admin), and gives its unsent rows back;
the editor resumes once the cause is fixed. A hard bounce (one dead address) neither counts
nor resets the run; a message accepted resets it. A `TransportError` (credentials refused,
TLS that does not verify) trips it at once: no retry fixes it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from digest.models import DeliveryStatus

# Outcomes that say the relay is not taking our mail.
TRIPPING = frozenset({DeliveryStatus.DEFERRED, DeliveryStatus.FAILED})


@dataclass
class Breaker:
    """Counts refusals in a row for one batch run; `reason` is set once it trips."""

    threshold: int
    in_a_row: int = 0
    reason: str | None = field(default=None)

    @property
    def tripped(self) -> bool:
        return self.reason is not None

    def observe(self, status: DeliveryStatus, reply: str | None, from_relay: bool) -> None:
        """Count one outcome; trips after `threshold` relay refusals with no success between."""
        if status == DeliveryStatus.SENT:
            self.in_a_row = 0
            return
        if not from_relay or status not in TRIPPING or self.threshold == 0:
            return
        self.in_a_row += 1
        if self.in_a_row >= self.threshold and self.reason is None:
            self.reason = (
                f"paused by the circuit breaker: {self.in_a_row} messages in a row refused "
                f"or dropped by the mail server; last reply: {reply or 'none'}"
            )

    def trip(self, why: str) -> None:
        """Trip at once (a configuration error no retry fixes)."""
        if self.reason is None:
            self.reason = f"paused by the circuit breaker: {why}"
