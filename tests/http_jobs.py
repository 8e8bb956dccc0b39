"""Drive jobs through a real API: enqueue, read, wait."""

from __future__ import annotations

from typing import Any

import httpx

from tests.conftest import wait_until


def enqueue(client: httpx.Client, task: str, **body: Any) -> str:
    """POST a job; return its id."""
    r = client.post("/api/v1/jobs", json={"task": task, **body})
    assert r.status_code == 202, r.text
    return str(r.json()["job_id"])


def enqueue_when_up(client: httpx.Client, task: str, timeout_s: float = 30, **body: Any) -> str:
    """POST a job until the API accepts it (Redis coming back); return its id."""
    ids: list[str] = []

    def accepted() -> bool:
        r = client.post("/api/v1/jobs", json={"task": task, **body})
        if r.status_code == 202:
            ids.append(str(r.json()["job_id"]))
        return bool(ids)

    wait_until(accepted, timeout_s, "the API to enqueue again")
    return ids[0]


def get_job(client: httpx.Client, job_id: str) -> dict[str, Any]:
    """A job as the API shows it."""
    r = client.get(f"/api/v1/jobs/{job_id}")
    assert r.status_code == 200, r.text
    data: dict[str, Any] = r.json()
    return data
