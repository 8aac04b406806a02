"""A job's lease: the events' claim design (cssai.executor) applied to a job, so two runs never overlap.

``jobs/{job}/lease-{g}.json`` (g zero-padded, so listing gives them in order). A run takes the lease by
creating the next generation (create-if-absent decides between two runs starting at once) when the latest
one is released or lapsed; it renews it every second from a thread while it runs, checks it before each
piece of work (a lapsed lease stays lost), and releases it at the end. Older generations are deleted.
A run that finds a live lease does nothing and says so: the other run is doing the job.
"""

from __future__ import annotations

import contextlib
import secrets
import time

from cssai import executor
from cssai.executor import Claim, Lease, LeaseLostError
from cssai.sinks import ObjectSink, SinkError
from cssai.writes import PutObject

PREFIX = "jobs/"


def lease_key(job: str, generation: int) -> str:
    return f"{PREFIX}{job}/lease-{generation:012d}.json"


class JobLease:
    def __init__(self, objects: ObjectSink, job: str) -> None:
        self.objects = objects
        self.job = job
        self.owner = secrets.token_hex(8)
        self._lease: Lease | None = None

    def acquire(self) -> bool:
        """Take the lease, or False when another live run holds it."""
        generations = sorted(int(k.rsplit("-", 1)[1].split(".")[0]) for k in self.objects.list(f"{PREFIX}{self.job}/")
                             if k.rsplit("/", 1)[-1].startswith("lease-") and k.endswith(".json"))
        latest = generations[-1] if generations else -1
        if latest >= 0:
            held = Claim.read(self.objects.get(lease_key(self.job, latest)))
            if held is not None and held.live(time.time()):
                return False
        mine = latest + 1
        until = time.time() + executor.LEASE_SECONDS
        key = lease_key(self.job, mine)
        if not self.objects.put(PutObject(key, Claim(self.owner, until).body()), f"job-{self.job}", if_absent=True):
            return False
        self._lease = Lease(self.objects, f"job-{self.job}", mine, self.owner, until, key=key)
        self._lease.start()
        for old in generations:  # tidy: only the newest generation matters
            with contextlib.suppress(SinkError):
                self.objects.delete(lease_key(self.job, old))
        return True

    def check(self) -> None:
        """Raise LeaseLostError once the lease may have passed to another run."""
        if self._lease is None:
            raise LeaseLostError("the job's lease is not held")
        self._lease.check()

    def release(self) -> None:
        if self._lease is not None:
            self._lease.release(time.monotonic() + 5)
            self._lease = None
