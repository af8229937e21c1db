"""Spending a store's shared request quota as its rate-limit headers report it (API.md §8).

BigCommerce does not say whether its quota window is fixed or sliding, and every other app on
the store spends the same quota in bursts we cannot see. So the pacer assumes neither. It
counts on what the freshest response reported as left, less what we sent after that request,
plus our own slots that are certainly free again: a slot is free, under either model, one
window after the request that took it was answered. When nothing is certain it sends a single
probe once the reported reset has passed, never a crowd; once a probe is refused (another app
takes what frees at the reset), it probes only when no slot of ours is about to free.
Requests are spread evenly at the rate the headers imply (quota / window); a burst goes out
only while more than half the quota is reported free.
"""

import threading
import time
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass

# A slot of ours counts as free this long (a share of the window) after it certainly expired,
# for clocks and for requests that reached the store later than they left.
SAFETY_SHARE = 0.01
# Room above this share of the quota may be spent at once; below it requests keep the even rate.
BURST_SHARE = 0.5
# How long a waiting request sleeps at most before it looks again (answers wake it sooner).
IDLE_WAIT_SECONDS = 1.0


@dataclass(frozen=True)
class QuotaReading:
    """What one response's rate-limit headers said about the store's quota."""

    quota: int
    left: int
    window: float  # seconds
    reset_in: float  # seconds until the window (fixed) or its oldest request (sliding) expires

    @classmethod
    def from_headers(cls, headers: Mapping[str, str], *, refused: bool) -> "QuotaReading | None":
        """The reading, or None when the response carries no rate-limit headers. A refused
        (429) request reports no room, whatever its count says."""
        try:
            quota = int(headers["X-Rate-Limit-Requests-Quota"])
            left = 0 if refused else int(headers["X-Rate-Limit-Requests-Left"])
            window = int(headers["X-Rate-Limit-Time-Window-Ms"]) / 1000
            reset_in = int(headers.get("X-Rate-Limit-Time-Reset-Ms", "0")) / 1000
        except (KeyError, ValueError):
            return None
        if quota <= 0 or window <= 0:
            return None
        return cls(quota=quota, left=max(left, 0), window=window, reset_in=max(reset_in, 0.0))


class Slot:
    """One request we sent: when it left, when it was answered, and whether the store refused
    it (a refused request took no slot)."""

    __slots__ = ("seq", "launched_at", "answered_at", "refused", "waited", "probe")

    def __init__(self, seq: int, launched_at: float, waited: float, probe: bool) -> None:
        self.seq, self.launched_at, self.waited, self.probe = seq, launched_at, waited, probe
        self.answered_at: float | None = None
        self.refused = False


@dataclass(frozen=True)
class _Anchor:
    """The freshest reading, tied to the request that carried it."""

    reading: QuotaReading
    seq: int
    reset_at: float

    @property
    def window_started(self) -> float:
        """Requests we launched after this moment were counted by the reading, under either
        model (fixed: the window's start; sliding: the oldest request still in it)."""
        return self.reset_at - self.reading.window


class QuotaPacer:
    """Decides when each request may go out, so the store's shared quota is used, not overdrawn.

    `acquire` blocks until a request may go; `observe` records its answer. The decision itself
    (`wait_before_launch`, `launch`) takes the time as an argument, so it can be tested
    without sleeping.
    """

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._changed = threading.Condition()
        self._seq = 0
        self._sent: deque[Slot] = deque()
        self._anchor: _Anchor | None = None
        self._paced: bool | None = None  # None until an answer says whether headers come
        self._in_flight = 0
        self._next_even = 0.0
        self._hold_until = 0.0
        self._probing = False  # whether the next launch is a probe after a reset
        self._probe_early = True  # probe at a reset even while a slot of ours will free soon

    @property
    def reading(self) -> QuotaReading | None:
        """What the freshest rate-limit headers said; None before any answer carried them."""
        with self._changed:
            return None if self._anchor is None else self._anchor.reading

    @property
    def in_flight(self) -> int:
        """Requests sent and not yet answered."""
        return self._in_flight

    def acquire(self) -> Slot:
        """Wait until a request may go out; the slot records the seconds waited."""
        started = self._clock()
        with self._changed:
            while True:
                now = self._clock()
                wait = self.wait_before_launch(now)
                if wait <= 0:
                    return self.launch(now, waited=now - started)
                self._changed.wait(min(wait, IDLE_WAIT_SECONDS))

    def observe(
        self,
        slot: Slot,
        headers: Mapping[str, str] | None,
        *,
        refused: bool = False,
        now: float | None = None,
    ) -> None:
        """Record the answer to a request (headers None: no answer came) and what it says."""
        with self._changed:
            now = self._clock() if now is None else now
            self._in_flight -= 1
            slot.answered_at, slot.refused = now, refused
            if slot.probe:
                self._probe_early = not refused
            reading = (
                None if headers is None else QuotaReading.from_headers(headers, refused=refused)
            )
            if reading is not None:
                self._paced = True
                if self._anchor is None or slot.seq >= self._anchor.seq:
                    self._anchor = _Anchor(reading, slot.seq, now + reading.reset_in)
            elif headers is not None and self._paced is None:
                self._paced = False  # the store sends no rate-limit headers: nothing to pace
            self._changed.notify_all()

    def hold(self, seconds: float, *, now: float | None = None) -> None:
        """Send nothing for `seconds` (the store asked us to wait after a 429)."""
        with self._changed:
            now = self._clock() if now is None else now
            self._hold_until = max(self._hold_until, now + seconds)
            self._changed.notify_all()

    def launch(self, now: float, *, waited: float = 0.0) -> Slot:
        """Record a request going out now."""
        self._seq += 1
        slot = Slot(self._seq, now, waited, probe=self._probing)
        self._sent.append(slot)
        self._in_flight += 1
        if self._anchor is not None:
            self._next_even = now + self._anchor.reading.window / self._anchor.reading.quota
        return slot

    def wait_before_launch(self, now: float) -> float:
        """Seconds until a request may go out; zero or less means now."""
        self._probing = False
        if now < self._hold_until:
            return self._hold_until - now
        if self._paced is None:
            return 0.0 if self._in_flight == 0 else IDLE_WAIT_SECONDS
        anchor = self._anchor
        if not self._paced or anchor is None:
            return 0.0
        reading = anchor.reading
        self._forget_old(now, reading.window)
        burst_room = reading.quota * BURST_SHARE
        # Cheap lower bound first: under an ample quota no list needs scanning.
        room = reading.left - (self._seq - anchor.seq)
        if room <= burst_room:
            room, next_free = self._room(now, anchor)
        if room > burst_room or (room > 0 and now >= self._next_even):
            return 0.0
        if room > 0:
            return self._next_even - now
        soon = now + reading.window / reading.quota if self._probe_early else float("inf")
        if now >= anchor.reset_at and self._in_flight == 0 and (next_free or soon) >= soon:
            self._probing = True
            return 0.0
        waits = [t - now for t in (next_free, anchor.reset_at) if t is not None and t > now]
        return min(waits, default=IDLE_WAIT_SECONDS)

    def _room(self, now: float, anchor: _Anchor) -> tuple[int, float | None]:
        """Requests that may go out now by the anchor's reading, and when the next of our own
        slots becomes certainly free (None: none is due)."""
        margin = anchor.reading.window * (1 + SAFETY_SHARE)
        room, next_free = anchor.reading.left, None
        for slot in self._sent:
            if slot.refused:
                continue
            free_at = None if slot.answered_at is None else slot.answered_at + margin
            free = free_at is not None and free_at <= now
            if slot.seq > anchor.seq:
                room -= not free  # taken after the reading, so not in its count
            elif slot.launched_at > anchor.window_started:
                room += free  # counted by the reading, and certainly free again
            else:
                continue
            if free_at is not None and not free and (next_free is None or free_at < next_free):
                next_free = free_at
        return room, next_free

    def _forget_old(self, now: float, window: float) -> None:
        """Drop answered requests too old to matter to any reading still to come."""
        horizon = now - 2 * window * (1 + SAFETY_SHARE)
        while self._sent and (answered := self._sent[0].answered_at) is not None:
            if answered > horizon:
                break
            self._sent.popleft()
