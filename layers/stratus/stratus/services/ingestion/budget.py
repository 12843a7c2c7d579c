"""The invocation's time, shared by the objects of one batch.

Lambda stops an invocation at its timeout, and a stopped invocation fails its whole batch: every
message comes back, and after `maxReceiveCount` receives the batch-mates of one huge object end in
the dead-letter queue, whatever organisation they belong to. So the extractor reads the remaining
time (`context.get_remaining_time_in_millis()`) before each stage and fails only the object that
would overrun, with the reason, while the others complete:

- a **reserve** is kept for the batch's last writes (vectors, statuses, idempotency records);
- reading and splitting the objects may use the first half of the rest: an object not read and
  split by then is failed (it is slow in itself: its batch-mates were read alongside it);
- embedding goes in slices, the objects with the fewest inputs first; a slice starts only if the
  time it is expected to take (measured on the slices before it) is left, so the objects still
  waiting when time runs short are the biggest ones, and only they fail.

The remaining time is read from the context at every check, never extrapolated from a clock of
our own: a context that reports a constant (tests) never runs out."""

from __future__ import annotations

from collections.abc import Callable

from stratus.errors import PayloadTooLargeError, ServiceUnavailableError

# Kept for the batch's last writes: this share of the time left when the batch starts, at most
# MAX_RESERVE_MS (on the deployed 120 s function: 10 s).
RESERVE_SHARE = 0.1
MAX_RESERVE_MS = 10_000
# Reading and splitting may use this share of the usable time (the rest is for embedding).
PREPARE_SHARE = 0.5


class OverrunError(PayloadTooLargeError):
    """The object needs more of the invocation than is left: it is failed so that its
    batch-mates complete. Its own fault (too big for one invocation), so it is not retried
    in place: the object ends FAILED with this reason."""


class OutOfTimeError(ServiceUnavailableError):
    """The whole batch was slow (no object of it got through a stage in time): nothing says it is
    one object's fault, so its objects are retried."""

    type = "ServiceUnavailableError"


class TimeBudget:
    def __init__(self, remaining_ms: Callable[[], int] | None) -> None:
        self._remaining_ms = remaining_ms
        start = remaining_ms() if remaining_ms is not None else None
        self._reserve_ms = min(MAX_RESERVE_MS, int(start * RESERVE_SHARE)) if start is not None else 0
        self._usable_at_start = (start - self._reserve_ms) / 1000 if start is not None else float("inf")

    @classmethod
    def of(cls, context: object) -> TimeBudget:
        """The budget of a Lambda context (anything with `get_remaining_time_in_millis`); no
        context (a hand-made call) has no limit."""
        remaining = getattr(context, "get_remaining_time_in_millis", None)
        return cls(remaining if callable(remaining) else None)

    @classmethod
    def unlimited(cls) -> TimeBudget:
        return cls(None)

    def remaining_ms(self) -> int | None:
        """The invocation's remaining time, for records that should expire with it."""
        return self._remaining_ms() if self._remaining_ms is not None else None

    def usable_seconds(self) -> float:
        """Seconds left before the reserve."""
        if self._remaining_ms is None:
            return float("inf")
        return (self._remaining_ms() - self._reserve_ms) / 1000

    def prepare_seconds_left(self) -> float:
        """Seconds reading and splitting may still take."""
        if self._remaining_ms is None:
            return float("inf")
        return self.usable_seconds() - self._usable_at_start * (1 - PREPARE_SHARE)

    def allows(self, seconds: float) -> bool:
        """Whether a step expected to take `seconds` fits before the reserve."""
        return self.usable_seconds() > seconds

    def out_of_time(self, stage: str) -> OutOfTimeError:
        return OutOfTimeError(
            f"no object of the batch could {stage} in the time this invocation had; it will be retried",
            {"stage": stage},
        )

    def overrun(self, stage: str) -> OverrunError:
        left = max(0.0, self.usable_seconds())
        return OverrunError(
            f"the object needs more time to {stage} than this invocation had left ({left:.1f} s before "
            "the time kept for writing the batch); it was failed so that the other objects of its "
            "batch could complete. Split it into smaller objects",
            {"stage": stage},
        )
