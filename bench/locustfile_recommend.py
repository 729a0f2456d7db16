"""Locust user for ``bench/serve_load.py``: POST /recommend with pre-drawn request bodies.

Environment: ``LMREC_LOCUST_PAYLOADS`` (JSON list of request bodies, cycled per user) and
``LMREC_LOCUST_RATE`` (requests/s per user; ``0`` = closed loop, no wait).
"""

import itertools
import json
import os

from locust import FastHttpUser, constant, constant_throughput, task

_PAYLOADS = json.loads(open(os.environ["LMREC_LOCUST_PAYLOADS"]).read())
_RATE = float(os.environ.get("LMREC_LOCUST_RATE", "0"))
_COUNTER = itertools.count()


class RecommendUser(FastHttpUser):
    wait_time = constant_throughput(_RATE) if _RATE > 0 else constant(0)

    @task
    def recommend(self):
        body = _PAYLOADS[next(_COUNTER) % len(_PAYLOADS)]
        with self.client.post("/recommend", json=body, name="/recommend", catch_response=True) as resp:
            if resp.status_code != 200:
                resp.failure(f"status {resp.status_code}")
            elif not resp.json()["items"]:
                resp.failure("empty answer")
