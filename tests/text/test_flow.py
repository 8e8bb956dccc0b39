"""Text over HTTP on `tally dev`: a few comments answer at once; 10,000 become a job with
progress, whose rows a report then reads from the store; seed 002's task names work."""

from __future__ import annotations

import csv
import io
import random
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tests.conftest import Proc, api_client, clean_env, free_port, wait_http, wait_until

RU = ["доставка", "быстрая", "курьер", "вежливый", "товар", "сломанный", "возврат", "цена",
      "отличная", "качество", "плохое", "упаковка", "приятная", "магазин", "советую"]  # fmt: skip
EN = ["delivery", "fast", "courier", "polite", "product", "broken", "refund", "price",
      "great", "quality", "poor", "packaging", "nice", "shop", "recommend"]  # fmt: skip


def comments(n: int) -> list[dict[str, Any]]:
    rng = random.Random(7)
    out = []
    for i in range(n):
        vocab = RU if i % 2 else EN
        out.append({"id": f"c{i}", "text": " ".join(rng.choice(vocab) for _ in range(20))})
    return out


def test_comments_are_analysed_now_or_as_a_job_and_stored_for_reports(
    tmp_path: Path, procs: Callable[..., Proc]
) -> None:
    port = free_port()
    env = clean_env(TALLY_DATA_DIR=str(tmp_path / "data"), TALLY_ANALYTICS_ON_STARTUP="false")
    dev = procs("dev", "--port", str(port), env=env, name="dev")
    base = f"http://127.0.0.1:{port}"
    wait_http(f"{base}/api/v1/health", proc=dev)
    client = api_client(base)
    # A few comments: the answer itself
    r = client.post("/api/v1/text/analyze", json={"comments": ["Кошки бежали", "Cats ran"]})
    assert r.status_code == 200, r.text
    body = r.json()
    assert [c["language"] for c in body["results"]] == ["ru", "en"]
    assert body["results"][0]["lemmas"][0] == {"word": "кошки", "lemma": "кошка",
                                               "pos": "NOUN", "language": "ru"}  # fmt: skip
    # Bad input names the field
    r = client.post("/api/v1/text/analyze", json={"comments": []})
    assert r.status_code == 422
    assert r.json()["error"]["field"] == "comments"
    # 10,000 comments: a job, with progress, and rows in the store
    r = client.post("/api/v1/text/analyze", json={"comments": comments(10_000), "top": 3})
    assert r.status_code == 202, r.text
    job_id = r.json()["job_id"]
    seen: list[int] = []

    def done() -> bool:
        job = client.get(f"/api/v1/jobs/{job_id}").json()
        if job["progress"] is not None:
            seen.append(job["progress"])
        return bool(job["status"] == "succeeded")

    wait_until(done, 120, "the text batch")
    job = client.get(f"/api/v1/jobs/{job_id}").json()
    assert job["result"]["stored"] == 10_000
    assert job["result"]["summary"]["languages"] == {"en": 5000, "ru": 5000}
    assert len(job["result"]["results"]) == 10_000
    assert "lemmas" not in job["result"]["results"][0]  # a large batch's words are in the table
    assert seen == sorted(seen)
    # The rows are there for reports to read
    query = ("SELECT language, count() AS n, sum(length(keywords)) AS k FROM "
             "analytics.text_comments GROUP BY language ORDER BY language")  # fmt: skip
    report = {"name": "text rows", "format": "csv", "source": {"kind": "sql", "query": query}}
    r = client.post("/api/v1/reports/run", json=report)
    run_id = r.json()["id"]
    wait_until(lambda: client.get(f"/api/v1/reports/runs/{run_id}").json()["status"] == "done",
               60, "the report")  # fmt: skip
    rows = list(csv.DictReader(io.StringIO(
        client.get(f"/api/v1/reports/runs/{run_id}/file").text)))  # fmt: skip
    assert [(r["language"], r["n"]) for r in rows] == [("en", "5000"), ("ru", "5000")]
    assert all(int(r["k"]) == 15_000 for r in rows)  # three keywords each
    # Seed 002's task names
    kwargs = {"texts": ["доставка доставка курьер"]}
    r = client.post("/api/v1/jobs", json={"task": "extract_keywords", "kwargs": kwargs})
    alias = r.json()["job_id"]
    wait_until(lambda: client.get(f"/api/v1/jobs/{alias}").json()["status"] == "succeeded", 30,
               "extract_keywords")  # fmt: skip
    found = client.get(f"/api/v1/jobs/{alias}").json()["result"]
    assert found["keywords"][0][0]["keyword"] == "доставка"
    client.close()
