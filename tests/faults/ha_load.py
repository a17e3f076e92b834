"""The HA drill's load: submitting systems that keep submitting through kipp-client while servers fail.

Each submitter is a thread with its own IntakeClient, submitting one proposal after another, each under an
Idempotency-Key of its own. The client retries a 5xx or a network error a few times with the same key; a
submitter then keeps trying the same key until intake acknowledges it (202), as a careful submitting
system does, so no submission it began is abandoned half-way and the counts are exact.
"""

import itertools
import threading
import time
from bisect import bisect_right
from dataclasses import dataclass

import httpx
from kipp_client import IntakeClient, Problem

from tests.fixtures import demo_proposals


@dataclass(frozen=True)
class Acknowledged:
    at: float  # time.time() when the 202 arrived
    proposal_id: str
    idempotency_key: str


class Submitters:
    def __init__(self, intake_url: str, api_key: str, count: int = 4, pause: float = 0.02) -> None:
        self._intake_url, self._api_key, self._pause = intake_url, api_key, pause
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._threads = [threading.Thread(target=self._submit, args=(n,), daemon=True) for n in range(count)]
        self._errors: list[BaseException] = []
        self.acknowledged: list[Acknowledged] = []
        self.retried = 0  # submissions the client gave up on (503, no answer) and the submitter sent again

    def start(self) -> None:
        for thread in self._threads:
            thread.start()

    def stop(self, within: float = 120, strict: bool = True) -> None:
        """Stops after each submitter's submission in flight is acknowledged. Not `strict` (the drill
        failed already): waits `within` seconds for each at most, and raises nothing of its own."""
        self._stop.set()
        for thread in self._threads:
            thread.join(within)
            if strict:
                assert not thread.is_alive(), "a submitter did not finish its last submission"
        if self._errors and strict:
            raise self._errors[0]

    def since(self, moment: float) -> list[Acknowledged]:
        with self._lock:
            return [a for a in self.acknowledged if a.at > moment]

    def _submit(self, number: int) -> None:
        texts = demo_proposals()
        try:
            with IntakeClient(self._intake_url, self._api_key, timeout=10) as client:
                sequence = 0
                while not self._stop.is_set():
                    key = f"ha-drill-{number}-{sequence}"
                    proposal = texts[(number + sequence) % len(texts)]
                    proposal_id = self._until_acknowledged(client, proposal, key)
                    with self._lock:
                        self.acknowledged.append(Acknowledged(time.time(), proposal_id, key))
                    sequence += 1
                    time.sleep(self._pause)
        except BaseException as error:  # handed to stop(), which raises it in the test
            self._errors.append(error)

    def _until_acknowledged(self, client: IntakeClient, proposal: dict[str, object], key: str) -> str:
        deadline = time.monotonic() + 120
        while True:
            try:
                return client.submit(proposal, idempotency_key=key).proposal_id
            except Problem as problem:
                if problem.status < 500:
                    raise  # refused: a bug, not a failure of the servers
            except httpx.TransportError:
                pass
            with self._lock:
                self.retried += 1
            if time.monotonic() > deadline:
                raise AssertionError(f"submission {key} was never acknowledged")
            time.sleep(0.2)


def longest_gap(moments: list[float], start: float, end: float) -> float:
    """The longest wait between two successive moments from `start` to `end`: for acknowledgements, the
    longest time no one was served. It counts from the last moment before `start` (the service was fine
    until then) to the first after it, and so on up to `end` (or the last moment before it)."""
    ordered = sorted(moments)
    first = max(bisect_right(ordered, start) - 1, 0)
    last = bisect_right(ordered, end)
    window = ordered[first:last]
    if len(window) < 2:
        return end - (window[0] if window else start)
    return max(later - earlier for earlier, later in itertools.pairwise(window))
