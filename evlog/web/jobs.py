"""Long operations the dashboard runs in a thread (a streamed diff, a large slice), so the page
can show progress, the first results early, and cancel. Each job has an unguessable id; the
app keeps the last few (bounded)."""
from __future__ import annotations

import secrets
import threading
import time
from collections.abc import Callable
from typing import Any


class JobCancelled(Exception):
    """Raised inside a job's work when it was cancelled (from `Job.check`)."""


class Job:
    """One operation in a thread: `work(job)` reports `job.done`/`job.total` and calls
    `job.check()` now and then (which raises JobCancelled once cancelled); its return value
    is `job.result`."""

    def __init__(self, kind: str, work: Callable[["Job"], Any], *, total: int | None = None,
                 info: dict | None = None, data: Any = None) -> None:
        self.id = secrets.token_urlsafe(12)
        self.kind = kind
        self.info = info or {}
        self.data = data                 # what the work shares with the status requests
        self.total = total
        self.done = 0
        self.state = "running"           # running, finished, cancelled, failed
        self.result: Any = None
        self.error: str | None = None
        self.started = time.monotonic()
        self.ended: float | None = None
        self.lock = threading.Lock()
        self._cancel = threading.Event()
        self._work = work
        self._thread = threading.Thread(target=self._run, name=f"evlog-{kind}-job", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        try:
            result = self._work(self)
            state, error = "finished", None
        except JobCancelled:
            result, state, error = None, "cancelled", None
        except Exception as exc:  # noqa: BLE001 - reported in the status, never a traceback
            result, state, error = None, "failed", (str(exc).splitlines() or [type(exc).__name__])[0]
        with self.lock:
            self.result, self.state, self.error = result, state, error
            self.ended = time.monotonic()

    def check(self) -> None:
        if self._cancel.is_set():
            raise JobCancelled

    @property
    def cancelled(self) -> bool:
        return self._cancel.is_set()

    def cancel(self) -> None:
        self._cancel.set()

    def join(self, timeout: float | None = None) -> None:
        self._thread.join(timeout)

    def status(self) -> dict:
        with self.lock:
            elapsed = (self.ended or time.monotonic()) - self.started
            return {"job_id": self.id, "kind": self.kind, "state": self.state, "done": self.done,
                    "total": self.total, "elapsed_s": round(elapsed, 3), "error": self.error, **self.info}


class JobManager:
    """The jobs of one app: at most `limit` kept, the oldest finished ones dropped first."""

    def __init__(self, limit: int = 16, running_limit: int = 4) -> None:
        self._lock = threading.Lock()
        self._jobs: dict[str, Job] = {}
        self.limit = limit
        self.running_limit = running_limit

    def running(self) -> int:
        with self._lock:
            return sum(j.state == "running" for j in self._jobs.values())

    def add(self, job: Job) -> Job:
        with self._lock:
            done = [k for k, j in self._jobs.items() if j.state != "running"]
            while len(self._jobs) >= self.limit and done:
                del self._jobs[done.pop(0)]
            self._jobs[job.id] = job
        return job

    def get(self, job_id: str, kind: str | None = None) -> Job | None:
        with self._lock:
            job = self._jobs.get(job_id)
        return job if job is not None and (kind is None or job.kind == kind) else None

    def cancel_all(self) -> None:
        with self._lock:
            jobs = list(self._jobs.values())
        for j in jobs:
            j.cancel()
        for j in jobs:
            j.join(5)
