"""The dashboard in a real browser (Debian's Chromium, driven by Playwright) on `tally dev`."""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright

from tests.conftest import IN_CI, Proc, api_client, clean_env, free_port, wait_http, wait_until
from tests.http_events import make_events

pytestmark = pytest.mark.slow

CHROMIUM = "/usr/bin/chromium"
ROOT = Path(__file__).resolve().parents[2]
SHOTS = ROOT / "build" / "screenshots"
TOKEN = "dash-token-" + "5e7a91"
# Flags for a closed network: without them Chromium keeps trying to reach Google's hosts.
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]  # fmt: skip


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    if not os.path.exists(CHROMIUM):
        if IN_CI:
            pytest.fail(f"{CHROMIUM} is missing: .ci/run installs Debian's chromium")
        pytest.skip("Debian's chromium is not installed")
    with sync_playwright() as pw:
        launched = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        yield launched
        launched.close()


def start_dev(tmp_path: Path, procs: Callable[..., Proc], **settings: str) -> str:
    """Start `tally dev` (with the test token and `settings`) on a free port; its URL."""
    port = free_port()
    env = clean_env(TALLY_DATA_DIR=str(tmp_path / "data"), TALLY_API_TOKENS=TOKEN, **settings)
    proc = procs("dev", "--port", str(port), env=env, name="dev")
    base = f"http://127.0.0.1:{port}"
    wait_http(f"{base}/api/v1/health", timeout_s=60, proc=proc)
    return base


@pytest.fixture
def dev(tmp_path: Path, procs: Callable[..., Proc]) -> Iterator[tuple[str, httpx.Client]]:
    """`tally dev` with a token, holding a known data set: video:star leads FR."""
    base = start_dev(tmp_path, procs, TALLY_DASHBOARD_SAMPLE_S="1")
    client = api_client(base, token=TOKEN)
    star = [{**e, "entity_id": "star", "event_type": "video_share"} for e in make_events(300)]
    bad = [{**e, "country": "ZZ"} for e in make_events(4)]
    assert client.post("/api/v1/events", json=make_events(2_000) + star + bad).status_code == 200
    assert client.post("/api/v1/events/flush", params={"wait": True}).status_code == 200
    assert client.post("/api/v1/analytics/run", json={"wait": True}).status_code == 200
    yield base, client
    client.close()


def shot(page: Page, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


def log_in(page: Page, base: str) -> None:
    page.goto(f"{base}/")
    expect(page).to_have_url(f"{base}/login?next=/")
    page.fill("#token", "not-the-token")
    page.click("button[type=submit]")
    expect(page.get_by_role("alert")).to_contain_text("not accepted")
    page.fill("#token", TOKEN)
    page.click("button[type=submit]")
    expect(page).to_have_url(f"{base}/")


def test_every_page_shows_the_pipeline(browser: Browser, dev: tuple[str, httpx.Client]) -> None:
    base, _ = dev
    page = browser.new_context(viewport={"width": 1280, "height": 900}).new_page()
    # Given a logged-in user (a wrong token is refused)
    log_in(page, base)

    # Then the overview shows health, every queue, and the last hour as line charts
    def charts_drawn() -> bool:
        page.reload()  # the page draws what the API sampled so far (every second here)
        return page.locator("svg.chart polyline").count() > 0

    wait_until(charts_drawn, 20, "two samples for the last-hour charts")
    expect(page.locator("#health")).to_have_text("healthy")
    expect(page.locator("#queues")).to_contain_text("analytics")
    shot(page, "overview")

    # And the analytics page shows the known leader first in FR, with its bar chart
    page.goto(f"{base}/analytics?by=country")
    popular_fr = page.locator('section[data-metric="popular"][data-group="FR"]')
    expect(popular_fr.locator("td.entity").first).to_have_text("video:star")
    expect(popular_fr.locator("svg.chart rect").first).to_be_visible()
    expect(page.locator("#asof")).to_contain_text("As of")
    shot(page, "analytics-country")
    page.goto(f"{base}/analytics?by=category")
    expect(page.locator("section").first).to_be_visible()
    shot(page, "analytics-category")

    # And the buffer page counts the 4 events from a country that does not exist
    page.goto(f"{base}/buffer")
    expect(page.locator("#rejected")).to_contain_text("invalid_country")
    expect(page.locator("#waiting")).to_have_text("0")
    shot(page, "buffer")

    # And queues, workers and schedules are listed
    page.goto(f"{base}/queues")
    expect(page.locator("#queues")).to_contain_text("events")
    shot(page, "queues")
    page.goto(f"{base}/schedules")
    expect(page.locator("#schedule")).to_contain_text("analytics.run")
    shot(page, "schedules")
    page.context.close()


def test_a_job_moves_on_the_page_and_abort_stops_it(
    browser: Browser, dev: tuple[str, httpx.Client]
) -> None:
    base, client = dev
    page = browser.new_context(viewport={"width": 1280, "height": 900}).new_page()
    log_in(page, base)
    # Given a long job enqueued through the API
    r = client.post("/api/v1/jobs", json={"task": "tally.noop",
                                          "kwargs": {"sleep_s": 30, "steps": 60}})  # fmt: skip
    job_id = r.json()["job_id"]

    # When its page is open, Then its progress bar moves without a reload
    page.goto(f"{base}/jobs/{job_id}")
    expect(page.locator("#status")).to_have_text("running", timeout=15_000)
    first = _progress(page)
    page.wait_for_timeout(2_500)
    assert _progress(page) > first
    shot(page, "job-running")

    # And it is listed on the jobs page with its bar
    jobs = page.context.new_page()  # same context: same login cookie
    jobs.goto(f"{base}/jobs?status=running")
    expect(jobs.locator(f'tr[data-job="{job_id}"] progress')).to_be_visible()
    shot(jobs, "jobs")
    jobs.close()

    # When Abort is clicked, Then the job stops
    started = time.monotonic()
    page.click("#abort")
    expect(page.locator("#status")).to_have_text("aborted", timeout=10_000)
    assert time.monotonic() - started < 10
    assert client.get(f"/api/v1/jobs/{job_id}").json()["status"] == "aborted"

    # And Retry runs it again as a new job
    page.click("#retry")
    expect(page.locator(".flash")).to_contain_text(f"retry of {job_id}")
    assert urlparse(page.url).path.startswith("/jobs/")
    assert urlparse(page.url).path != f"/jobs/{job_id}"
    shot(page, "job-retried")
    page.context.close()


def _progress(page: Page) -> float:
    value: Any = page.locator("#progress").evaluate("el => el.value")
    return float(value)


def test_pages_need_a_token_unless_made_public(dev: tuple[str, httpx.Client]) -> None:
    base, _ = dev
    # A fresh client (no cookie) is sent to the login page, and cannot abort anything
    anonymous = httpx.Client(base_url=base, timeout=30)
    for path in ("/", "/jobs", "/analytics", "/buffer", "/queues", "/schedules"):
        r = anonymous.get(path, follow_redirects=False)
        assert r.status_code == 303, path
        assert r.headers["location"].startswith("/login")
    r = anonymous.post("/jobs/whatever/abort", follow_redirects=False)
    assert r.headers["location"] == "/login"


def test_a_public_dashboard_reads_without_a_token_but_changes_need_one(
    tmp_path: Path, procs: Callable[..., Proc]
) -> None:
    # Given `tally dev` with TALLY_DASHBOARD_PUBLIC=true and a token
    base = start_dev(tmp_path, procs, TALLY_DASHBOARD_PUBLIC="1")
    with api_client(base, token=TOKEN) as client:
        job = client.post("/api/v1/jobs", json={"task": "tally.noop", "kwargs": {"sleep_s": 20}})
        job_id = job.json()["job_id"]
    anonymous = httpx.Client(base_url=base, timeout=30)
    # Then anyone reads every page, without the buttons that change things
    for path in ("/", "/jobs", "/analytics", "/buffer", "/queues", "/schedules"):
        assert anonymous.get(path, follow_redirects=False).status_code == 200, path
    page = anonymous.get(f"/jobs/{job_id}").text
    assert 'id="abort"' not in page
    assert "Log in with a token" in page
    # And a change without the token is sent to the login page, and nothing happens
    r = anonymous.post(f"/jobs/{job_id}/abort", follow_redirects=False)
    assert r.headers["location"] == "/login"
    assert anonymous.get(f"/api/v1/jobs/{job_id}").json()["status"] in ("queued", "running")


COUNTRIES = ("FR", "GB", "DE", "US", "ES", "IT", "JP", "BR")


@pytest.fixture
def many_groups(tmp_path: Path, procs: Callable[..., Proc]) -> str:
    """`tally dev` with events in 8 countries (more than the page shows by default)."""
    base = start_dev(tmp_path, procs)
    with api_client(base, token=TOKEN) as client:
        events = []
        for n, country in enumerate(COUNTRIES):
            events += [{**e, "country": country} for e in make_events(200 * (len(COUNTRIES) - n))]
        assert len(events) == 7_200
        assert client.post("/api/v1/events", json=events).status_code == 200
        assert client.post("/api/v1/events/flush", params={"wait": True}).status_code == 200
        assert client.post("/api/v1/analytics/run", json={"wait": True}).status_code == 200
    return base


def _overflowing(page: Page) -> list[str]:
    """Charts whose box leaves their card's box (measured in the page)."""
    found: list[str] = page.evaluate(
        """() => [...document.querySelectorAll('section.card')].flatMap(card => {
            const c = card.getBoundingClientRect();
            return [...card.querySelectorAll('svg.chart')].filter(svg => {
                const s = svg.getBoundingClientRect();
                return s.left < c.left - 0.5 || s.right > c.right + 0.5;
            }).map(() => card.dataset.metric + ' ' + card.dataset.group);
        })"""
    )
    return found


def test_the_group_picker_reaches_every_group_and_charts_stay_in_their_cards(
    browser: Browser, many_groups: str
) -> None:
    base = many_groups
    for width in (1000, 1280, 1600):
        page = browser.new_context(viewport={"width": width, "height": 900}).new_page()
        log_in(page, base)
        page.goto(f"{base}/analytics?by=country")
        expect(page.locator("section.card").first).to_be_visible()
        assert _overflowing(page) == [], width
        if width == 1000:
            shot(page, "analytics-1000px")
        # Every group is in the picker, the ones not drawn by default included
        options = page.locator("#group option").all_inner_texts()
        assert set(COUNTRIES) <= set(options)
        assert page.locator('section[data-group="BR"]').count() == 0  # the 8th: not drawn
        page.select_option("#group", "BR")
        page.click("#picker button[type=submit]")
        expect(page.locator('section[data-metric="popular"][data-group="BR"]')).to_be_visible()
        expect(page.locator('section[data-metric="trending"][data-group="BR"]')).to_be_visible()
        assert page.locator("section.card").count() == 2  # side by side, that group only
        assert _overflowing(page) == [], width
        page.context.close()
    # ?group= is honoured as ingest normalises it
    page = browser.new_context(viewport={"width": 1280, "height": 900}).new_page()
    log_in(page, base)
    page.goto(f"{base}/analytics?by=country&group=gb")
    expect(page.locator('section[data-metric="popular"][data-group="GB"]')).to_be_visible()
    expect(page.locator("#asof")).to_contain_text("7,200 events")  # thousands separated
    shot(page, "analytics-gb")
    # Nothing waiting says so (no "- s old"), no empty columns, words for the mode in force
    page.goto(f"{base}/buffer")
    expect(page.locator("main")).not_to_contain_text("s old")
    page.goto(f"{base}/queues")
    expect(page.locator("#queues")).not_to_contain_text("aborted 24 h")
    page.goto(f"{base}/schedules")
    expect(page.locator("main")).to_contain_text("runs inside this process")
    expect(page.locator("header")).to_contain_text("Log out")
    page.context.close()


def test_nobody_logged_in_sees_no_log_out(tmp_path: Path, procs: Callable[..., Proc]) -> None:
    base = start_dev(tmp_path, procs, TALLY_DASHBOARD_PUBLIC="1")
    page = httpx.get(f"{base}/queues", timeout=30).text
    assert "Log out" not in page
    assert 'href="/login"' in page


def test_a_rule_made_in_the_dashboard_fires_and_resolves_once_on_slack(
    browser: Browser, tmp_path: Path, procs: Callable[..., Proc]
) -> None:
    from tests.alerts.receiver import Receiver

    slack = Receiver()
    base = start_dev(tmp_path, procs, TALLY_ALERTS_TICK_S="0.5", TALLY_ANALYTICS_ON_STARTUP="false",
                     TALLY_WEBHOOK_ALLOWED_HOSTS="127.0.0.1")  # fmt: skip
    client = api_client(base, token=TOKEN)
    hook = {"name": "slack", "kind": "slack", "url": slack.url("/services/T0/B0/secret")}
    assert client.post("/api/v1/alerts/channels", json=hook).status_code == 201
    page = browser.new_page()
    log_in(page, base)
    # Given a user who writes "video_view events in FR below 50 % of the previous window"
    page.goto(f"{base}/alerts")
    page.fill("input[name=name]", "FR views halved")
    page.fill("input[name=every_s]", "1")
    page.fill("input[name=spec_event_type]", "video_view")
    page.fill("input[name=spec_country]", "FR")
    page.fill("input[name=spec_window_s]", "4")
    page.select_option("select[name=spec_condition]", "change_pct")
    page.fill("input[name=spec_bound]", "-50")
    page.select_option("select[name=channels]", ["slack"])
    page.click("#create-rule")
    expect(page.locator("#rule-name")).to_have_text("FR views halved")
    # And previews it
    page.click("#preview")
    expect(page.locator("#preview-result")).to_contain_text("evaluations every")
    # When 60 views arrive, then none: the window after them is down 100 % (fires), the one
    # after that is as empty as the one before it (resolves)
    now = make_events(60)
    assert client.post("/api/v1/events", json=now).json()["accepted"] == 60
    client.post("/api/v1/events/flush", params={"wait": True})
    wait_until(lambda: len(slack.requests) >= 2, 30, "the firing and the resolve on Slack")
    time.sleep(3)
    # Then Slack got exactly one message for each, in Block Kit with the rule's name
    texts = [b["text"] for b in slack.bodies()]
    assert len(texts) == 2
    assert "is firing" in texts[0]
    assert "resolved" in texts[1]
    fields = slack.bodies()[0]["blocks"][1]["fields"]
    assert fields[0]["text"] == "*Rule*\nFR views halved"
    page.reload()
    expect(page.locator("#history")).to_contain_text("firing")
    expect(page.locator("svg.timeline rect[data-state=firing]").first).to_be_visible()
    shot(page, "alert-rule")
    slack.stop()
    client.close()


def test_a_weekly_pdf_made_in_the_dashboard_reaches_email_and_s3_and_downloads(
    browser: Browser, tmp_path: Path, procs: Callable[..., Proc], s3: Any
) -> None:
    import email
    import json

    from tests.alerts.receiver import SmtpServer

    smtp = SmtpServer()
    bucket = s3.bucket("weekly")
    base = start_dev(
        tmp_path, procs, TALLY_ANALYTICS_ON_STARTUP="false", ALERT_EMAIL_SMTP_HOST="127.0.0.1",
        ALERT_EMAIL_SMTP_PORT=str(smtp.port), ALERT_EMAIL_SECURITY="none",
        ALERT_EMAIL_FROM="tally@example.com",
        TALLY_REPORTS_STORAGE_OPTIONS=json.dumps(s3.options()),
    )  # fmt: skip
    client = api_client(base, token=TOKEN)
    star = [{**e, "entity_id": "star", "event_type": "video_share"} for e in make_events(300)]
    assert client.post("/api/v1/events", json=make_events(1_000) + star).status_code == 200
    assert client.post("/api/v1/events/flush", params={"wait": True}).status_code == 200
    assert client.post("/api/v1/analytics/run", json={"wait": True}).status_code == 200
    page = browser.new_context(
        viewport={"width": 1280, "height": 900}, accept_downloads=True
    ).new_page()
    log_in(page, base)
    # Given a user who defines "every Monday 08:00 Europe/Paris, trending by country as PDF,
    # to email and S3" on the Reports page
    page.goto(f"{base}/reports")
    page.fill("input[name=name]", "weekly trending")
    page.fill("input[name=title]", "Trending by country")
    page.select_option("select[name=source]", "trending")
    page.select_option("select[name=format]", "pdf")
    page.fill("input[name=cron]", "0 8 * * 1")
    page.fill("input[name=timezone]", "Europe/Paris")
    page.fill("input[name=email_to]", "team@example.com")
    page.fill("input[name=url]", f"s3://{bucket}/weekly")
    page.click("#create-report")
    expect(page.locator("h1")).to_have_text("weekly trending")
    expect(page.locator("main")).to_contain_text("Europe/Paris")
    saved = client.get("/api/v1/reports/weekly trending").json()
    assert time.gmtime(saved["next_run_at"]).tm_wday == 0  # a Monday
    assert time.gmtime(saved["next_run_at"]).tm_hour in (6, 7)  # 08:00 in Paris
    # When the Monday run happens (here: run now)
    page.click("#run-now")

    def delivered() -> bool:
        page.reload()
        return page.locator("#runs td.status.done").count() == 1

    wait_until(delivered, 60, "the run to be delivered")
    # Then one email and one object, and the page downloads the same file
    with page.expect_download() as caught:
        page.locator("#runs a.download").first.click()
    downloaded = Path(caught.value.path()).read_bytes()
    assert downloaded.startswith(b"%PDF")
    assert len(smtp.messages) == 1
    message = email.message_from_bytes(smtp.messages[0].content)  # type: ignore[arg-type]
    attached = [p.get_payload(decode=True) for p in message.walk() if p.get_filename()]
    assert attached == [downloaded]
    keys = s3.keys(bucket)
    assert len(keys) == 1
    assert s3.client().get_object(Bucket=bucket, Key=keys[0])["Body"].read() == downloaded
    expect(page.locator("#runs")).to_contain_text("email delivered")
    expect(page.locator("#runs")).to_contain_text("url delivered")
    shot(page, "report")

    # And an HTML report opens in the browser with its charts drawn in their colours
    inline = {
        "name": "popular html",
        "format": "html",
        "source": {"kind": "popularity", "limit": 5},
    }
    r = client.post("/api/v1/reports/run", json=inline)
    run_id = r.json()["id"]
    wait_until(lambda: client.get(f"/api/v1/reports/runs/{run_id}").json()["status"] == "done",
               60, "the HTML run")  # fmt: skip
    page.goto(f"{base}/api/v1/reports/runs/{run_id}/file")
    bar = page.locator("svg.chart rect[fill='#2563eb']").first
    expect(bar).to_be_visible()
    assert (bar.bounding_box() or {"width": 0})["width"] > 1
    expect(page.locator("body")).to_contain_text("video:star")
    shot(page, "report-html")
    page.context.close()
    smtp.stop()
    client.close()
