"""The pacer's decisions in simulated time: workers, a store's quota under a fixed or a sliding
window, another app spending part of it, and network delays, without sleeping."""

import heapq
import random
from collections import deque
from dataclasses import dataclass, field

import pytest

from bigcommerce_assets.pacing import QuotaPacer

pytestmark = pytest.mark.unit

QUOTA, WINDOW = 45, 3.0  # Pro's 450 per 30 s, scaled down as in the benchmarks
LATENCY = 0.020


class SimulatedQuota:
    """A store's quota in simulated seconds: `fixed` windows from 0, or `sliding` (a request
    frees its slot one window after it was made); an app bursting `share` of the quota at the
    start of every window, taking what is free then."""

    def __init__(self, model: str, share: float = 0.0) -> None:
        self.model, self.share = model, share
        self.spent: deque[float] = deque()  # sliding: when each unit in the window was spent
        self.used, self.window_index = 0, -1  # fixed
        self.next_burst, self.competitor = 0.0, 0

    def spend(self, now: float, *, ours: bool = True) -> dict[str, str] | None:
        """Headers of an answer at `now`; None when the request is refused."""
        if ours:
            while self.share and self.next_burst <= now:
                self._expire(self.next_burst)
                for _ in range(round(self.share * QUOTA)):
                    self.competitor += self.spend(self.next_burst, ours=False) is not None
                self.next_burst += WINDOW
        self._expire(now)
        if self.model == "fixed":
            reset = (self.window_index + 1) * WINDOW - now
            if self.used >= QUOTA:
                return None
            self.used += 1
            return self._headers(QUOTA - self.used, reset)
        if len(self.spent) >= QUOTA:
            return None
        self.spent.append(now)
        return self._headers(QUOTA - len(self.spent), self.spent[0] + WINDOW - now)

    def refusal(self, now: float) -> dict[str, str]:
        if self.model == "fixed":
            return self._headers(0, (self.window_index + 1) * WINDOW - now)
        return self._headers(0, self.spent[0] + WINDOW - now)

    def _expire(self, now: float) -> None:
        if self.model == "fixed":
            index = int(now // WINDOW)
            if index != self.window_index:
                self.window_index, self.used = index, 0
        while self.spent and self.spent[0] + WINDOW <= now:
            self.spent.popleft()

    @staticmethod
    def _headers(left: int, reset: float) -> dict[str, str]:
        return {
            "X-Rate-Limit-Requests-Quota": str(QUOTA),
            "X-Rate-Limit-Requests-Left": str(left),
            "X-Rate-Limit-Time-Window-Ms": str(int(WINDOW * 1000)),
            "X-Rate-Limit-Time-Reset-Ms": str(max(int(reset * 1000), 0)),
        }


@dataclass
class Outcome:
    answered: int = 0
    refused: int = 0
    finished_at: float = 0.0
    launches: list[float] = field(default_factory=list)


def simulate(
    quota: SimulatedQuota, *, requests: int, workers: int = 8, start: float = 0.5, seed: int = 1
) -> Outcome:
    """`workers` send `requests` in all through one pacer, as the transport does: a refused
    request is held for the reset the store reports, then sent again. A waiting worker looks
    again when its wait ends or when any answer arrives, whichever is first."""
    jitter = random.Random(seed)
    pacer, outcome = QuotaPacer(clock=lambda: 0.0), Outcome()
    events: list[tuple[float, int, str, int, object]] = []
    order = 0
    turn = [0] * workers  # a worker's "try" events from an older turn are stale
    waiting: set[int] = set()

    def push(at: float, kind: str, worker: int, payload: object = None) -> None:
        nonlocal order
        order += 1
        heapq.heappush(events, (at, order, kind, worker, payload))

    def try_again(at: float, worker: int) -> None:
        turn[worker] += 1
        push(at, "try", worker, turn[worker])

    for worker in range(workers):
        try_again(start, worker)
    unsent = requests
    while events:
        now, _, kind, worker, payload = heapq.heappop(events)
        if kind == "try":
            if payload != turn[worker] or unsent <= pacer.in_flight:
                waiting.discard(worker)
                continue
            wait = pacer.wait_before_launch(now)
            if wait > 0:
                waiting.add(worker)
                try_again(now + min(wait, 1.0), worker)
                continue
            waiting.discard(worker)
            outcome.launches.append(now)
            push(now + jitter.uniform(0, 0.004), "arrive", worker, pacer.launch(now))
        elif kind == "arrive":
            headers = quota.spend(now)
            refused = headers is None
            headers = quota.refusal(now) if refused else headers
            push(now + LATENCY, "answer", worker, (payload, headers, refused))
        else:
            slot, headers, refused = payload  # type: ignore[misc]
            pacer.observe(slot, headers, refused=refused, now=now)
            if refused:
                outcome.refused += 1
                pacer.hold(int(headers["X-Rate-Limit-Time-Reset-Ms"]) / 1000, now=now)
            else:
                outcome.answered += 1
                unsent -= 1
            outcome.finished_at = now
            for sleeper in list(waiting):
                try_again(now, sleeper)
            try_again(now, worker)
    return outcome


def _quota_used(outcome: Outcome, available: float, start: float = 0.5) -> float:
    windows = (outcome.finished_at - start) / WINDOW
    return outcome.answered / (windows * available)


@pytest.mark.parametrize("model", ["fixed", "sliding"])
def test_pacer_alone_uses_the_quota_without_429s(model):
    outcome = simulate(SimulatedQuota(model), requests=1500)

    assert outcome.answered == 1500
    assert outcome.refused / 1500 < 0.01
    assert _quota_used(outcome, QUOTA) >= 0.9


def test_pacer_beside_a_bursting_app_on_a_sliding_window_uses_what_it_leaves():
    quota = SimulatedQuota("sliding", share=1 / 3)
    outcome = simulate(quota, requests=1500)
    left_by_app = QUOTA - round(QUOTA / 3)

    assert outcome.answered == 1500
    assert outcome.refused / 1500 < 0.03
    assert _quota_used(outcome, left_by_app) >= 0.8
    assert quota.competitor >= (outcome.finished_at / WINDOW - 1) * round(QUOTA / 3)


@pytest.mark.parametrize("model", ["fixed", "sliding"])
def test_pacer_after_an_exhausted_window_releases_one_request_not_all(model):
    quota = SimulatedQuota(model)
    for _ in range(QUOTA):
        quota.spend(0.4, ours=False)  # another app spent the whole window just before us

    outcome = simulate(quota, requests=60, start=0.5)

    first_after_reset = [t for t in outcome.launches if t >= 3.0]
    assert outcome.answered == 60
    assert first_after_reset[1] - first_after_reset[0] >= LATENCY  # a probe, then its answer
    assert outcome.refused <= 2


def test_pacer_sends_freely_when_the_store_sends_no_rate_limit_headers():
    pacer = QuotaPacer(clock=lambda: 0.0)
    first = pacer.launch(0.0)
    assert pacer.wait_before_launch(0.0) > 0  # one probe until we know whether headers come
    pacer.observe(first, {}, now=0.01)

    assert all(pacer.wait_before_launch(0.01) <= 0 for _ in range(8) if pacer.launch(0.01))


def test_pacer_trusts_the_reading_of_the_latest_request_sent_not_the_latest_answer():
    pacer = QuotaPacer(clock=lambda: 0.0)
    older, newer = pacer.launch(0.0), None
    pacer.observe(older, SimulatedQuota._headers(40, 2.0), now=0.01)
    older, newer = pacer.launch(0.01), pacer.launch(0.01)
    pacer.observe(newer, SimulatedQuota._headers(0, 2.0), now=0.02)
    pacer.observe(older, SimulatedQuota._headers(38, 2.0), now=0.03)  # stale, arrives last

    assert pacer.wait_before_launch(0.03) > 1.0


def test_pacer_waits_as_long_as_a_429_asks():
    pacer = QuotaPacer(clock=lambda: 0.0)
    pacer.hold(5.0, now=0.0)

    assert pacer.wait_before_launch(1.0) == pytest.approx(4.0)
    assert pacer.wait_before_launch(5.0) <= 0
