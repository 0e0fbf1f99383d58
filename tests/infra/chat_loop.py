"""A chat loop that watches a client's hosts for a whole scenario, for the tests that
prove a live client stays live while its changes are pending, fail or are discarded."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass

from flask import Flask

CHAT = {"messages": [{"role": "user", "content": "still there?"}]}


@dataclass(frozen=True)
class Sample:
    host: str
    started: float  # time.time() when the request was sent
    finished: float  # time.time() when its answer came back
    status: int


class ChatLoop(threading.Thread):
    """Sends a chat request to every watched host, round after round, until stopped."""

    def __init__(self, app: Flask, hosts: list[str]) -> None:
        super().__init__(name="chat-loop", daemon=True)
        self.app = app
        self.hosts = list(hosts)
        self.samples: list[Sample] = []
        self._stop_event = threading.Event()

    def watch(self, host: str) -> None:
        if host not in self.hosts:
            self.hosts.append(host)

    def run(self) -> None:
        http = self.app.test_client()
        while not self._stop_event.is_set():
            for host in list(self.hosts):
                started = time.time()
                status = http.post("/llm-client/", json=CHAT, headers={"Host": host}).status_code
                self.samples.append(Sample(host, started, time.time(), status))
            self._stop_event.wait(0.05)

    def stop(self) -> None:
        self._stop_event.set()
        self.join(timeout=30)

    def window(self, host: str, since: float, until: float | None = None) -> list[Sample]:
        """The requests to ``host`` sent at or after ``since`` and answered before
        ``until``: a request in flight across a change may see either side of it."""
        until = time.time() if until is None else until
        return [
            s
            for s in list(self.samples)
            if s.host == host and since <= s.started and s.finished < until
        ]

    def assert_served(self, host: str, since: float, until: float | None = None) -> int:
        """Every request to ``host`` sent in the window answered 2xx (and there were some)."""
        samples = self.window(host, since, until)
        assert samples, f"no request reached {host} in the window"
        failures = [s for s in samples if not 200 <= s.status < 300]
        assert not failures, f"{host} answered {failures[:5]} ({len(failures)}/{len(samples)})"
        return len(samples)

    def assert_refused(self, host: str, since: float, until: float | None = None) -> int:
        """Every request to ``host`` sent in the window was refused (no 2xx)."""
        samples = self.window(host, since, until)
        assert samples, f"no request reached {host} in the window"
        served = [s for s in samples if 200 <= s.status < 300]
        assert not served, f"{host} was served in a window where it must not be: {served[:5]}"
        return len(samples)

    def first_served(self, host: str) -> float | None:
        """When the first successful answer from ``host`` came back."""
        return next(
            (s.finished for s in list(self.samples) if s.host == host and s.status == 200), None
        )

    def wait_for_samples(
        self, host: str, since: float, count: int = 3, timeout: float = 30
    ) -> None:
        deadline = time.monotonic() + timeout
        while len(self.window(host, since)) < count and time.monotonic() < deadline:
            time.sleep(0.05)
