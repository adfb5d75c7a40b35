"""Prometheus metrics: ``/metrics`` answers only its bearer token, and shows
request latency by endpoint name, the vault's bytes, the job queue, job
failures, the outbox and the scanner's backlog; gunicorn's workers add up in
multiprocess mode, and a job consumer serves its own counters."""
from __future__ import annotations

import os
import re
import runpy
import subprocess
import sys
import urllib.request
from types import SimpleNamespace

import pytest
from huey.storage import SqliteStorage
from prometheus_client.parser import text_string_to_metric_families

import config
from portal import create_app, jobs, notify
from portal.dev.embedded_s3 import free_port
from portal.extensions import db
from portal.outbox import tasks as outbox_tasks
from tests.jobs import ROOT, queued_jobs, run_jobs, start_consumer, stop, wait_until
from tests.test_config import COMPLETE
from tests.uploads import PDF, documents_url, pattern, upload, versions

TOKEN = "scrape-" + "k" * 40
MiB = 1 << 20
UUID = re.compile(r"[0-9a-f]{8}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{12}", re.I)


@pytest.fixture()
def metrics_on(app):
    app.config["METRICS_TOKEN"] = TOKEN
    return app


def samples(text: str) -> dict[tuple[str, frozenset], float]:
    """Every sample of a scrape, by name and labels."""
    return {(sample.name, frozenset(sample.labels.items())): sample.value
            for family in text_string_to_metric_families(text) for sample in family.samples}


def scrape(client) -> dict[tuple[str, frozenset], float]:
    response = client.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
    assert response.status_code == 200
    return samples(response.text)


def value(scraped: dict, name: str, **labels) -> float:
    return scraped.get((name, frozenset(labels.items())), 0.0)


# --- who gets an answer ----------------------------------------------------------------

def test_metrics_are_a_404_while_no_token_is_set(app, client):
    assert not app.config["METRICS_TOKEN"]
    for headers in ({}, {"Authorization": "Bearer "}, {"Authorization": f"Bearer {TOKEN}"}):
        assert client.get("/metrics", headers=headers).status_code == 404


@pytest.mark.parametrize("authorization", [
    None, "", "Bearer", "Bearer ", f"Bearer {TOKEN[:-1]}", f"Bearer {TOKEN}x",
    f"Basic {TOKEN}", TOKEN, f"Bearer {TOKEN.upper()}", "Bearer пароль"])
def test_a_wrong_or_missing_token_gets_the_404_of_an_unknown_page(metrics_on, authorization):
    headers = {} if authorization is None else {"Authorization": authorization}
    refused = metrics_on.test_client().get("/metrics", headers=headers)
    unknown = metrics_on.test_client().get("/no-such-page", headers=headers)
    assert refused.status_code == unknown.status_code == 404
    # The same page as any unknown address (its language form's CSRF cookie included):
    # nothing tells that metrics exist.
    assert refused.content_type == unknown.content_type
    assert ("Set-Cookie" in refused.headers) == ("Set-Cookie" in unknown.headers)
    assert "portal_" not in refused.text


def test_a_signed_in_session_is_no_token(metrics_on, client, login_as, make_user):
    login_as(make_user("admin"))
    assert client.get("/metrics").status_code == 404


def test_the_token_gets_the_prometheus_text_format_without_a_session(metrics_on, client):
    response = client.get("/metrics", headers={"Authorization": f"bearer {TOKEN}"})
    assert response.status_code == 200
    assert response.content_type.startswith("text/plain; version=")
    assert "Set-Cookie" not in response.headers
    assert response.headers["Cache-Control"] == "no-store"
    names = {family.name for family in text_string_to_metric_families(response.text)}
    assert {"portal_request_duration_seconds", "portal_job_queue_depth",
            "portal_outbox_backlog"} <= names


def test_wrong_tokens_are_rate_limited_per_address(metrics_on, client):
    metrics_on.config["METRICS_LIMIT"] = "3 per minute"
    assert [client.get("/metrics").status_code for _ in range(4)] == [404, 404, 404, 429]


def test_nothing_is_rate_limited_while_metrics_are_off(app, client):
    app.config["METRICS_LIMIT"] = "3 per minute"
    assert {client.get("/metrics").status_code for _ in range(6)} == {404}


def test_the_right_token_is_not_counted_against_the_limit(metrics_on, client):
    metrics_on.config["METRICS_LIMIT"] = "2 per minute"
    for _ in range(4):
        scrape(client)


# --- request latency -------------------------------------------------------------------

def test_latency_is_labelled_by_endpoint_name_never_by_path(metrics_on, client, login_as,
                                                            make_user, make_case):
    attorney = make_user("attorney")
    case = make_case(attorney=attorney)
    before = scrape(client)
    client.get("/login")
    login_as(attorney)
    assert client.get(f"/cases/{case.uuid}").status_code == 200
    client.get(f"/no-such-page/{case.uuid}")
    after = scrape(client)
    count = "portal_request_duration_seconds_count"
    for endpoint, status in (("auth.login", "2xx"), ("cases.show_case", "2xx"),
                             ("unmatched", "4xx")):
        labels = dict(endpoint=endpoint, method="GET", status_class=status)
        assert value(after, count, **labels) >= value(before, count, **labels) + 1
    labels = [v for _, pairs in after for _, v in pairs]
    assert not [v for v in labels if UUID.search(v) or "/" in v]


def test_unknown_methods_do_not_make_new_series(metrics_on, client):
    client.open("/login", method="BREW")
    scraped = scrape(client)
    methods = {v for (_, pairs) in scraped for k, v in pairs if k == "method"}
    assert "BREW" not in methods and "other" in methods


# --- bytes through the vault -----------------------------------------------------------

@pytest.fixture()
def people(make_user, make_case):
    client = make_user("client")
    return dict(client=client, case=make_case(client=client))


def test_upload_and_download_bytes_count_what_went_through(metrics_on, client, login_as,
                                                           people):
    content = b"".join(pattern(2 * MiB + 12345, head=PDF))  # three chunks on the way out
    login_as(people["client"])
    before = scrape(client)
    response = upload(client, documents_url(people["case"]), [("scan.pdf", [content])])
    assert response.status_code == 303
    (version,) = versions()
    uploaded = scrape(client)
    purpose = dict(purpose="document_version")
    assert (value(uploaded, "portal_upload_bytes_total", **purpose)
            == value(before, "portal_upload_bytes_total", **purpose) + len(content))

    link = f"/cases/{people['case'].uuid}/versions/{version.uuid}/download"
    assert client.get(link).data == content
    downloaded = scrape(client)
    assert (value(downloaded, "portal_download_bytes_total", **purpose)
            == value(uploaded, "portal_download_bytes_total", **purpose) + len(content))

    # A download broken off after its first chunk counts that chunk only.
    partial = client.get(link, buffered=False)
    body = iter(partial.response)
    first = next(body)
    partial.close()
    after = scrape(client)
    assert 0 < len(first) < len(content)
    assert (value(after, "portal_download_bytes_total", **purpose)
            == value(downloaded, "portal_download_bytes_total", **purpose) + len(first))


# --- jobs, outbox, scanner -------------------------------------------------------------

def test_queue_depth_and_outbox_backlog_count_a_queued_email(metrics_on, client, mailbox):
    with queued_jobs(metrics_on):
        before = scrape(client)
        assert value(before, "portal_job_queue_depth") == 0
        notify.queue_added_to_case("ana@example.org", "en")
        db.session.commit()
        waiting = scrape(client)
        assert value(waiting, "portal_job_queue_depth") == 1
        assert (value(waiting, "portal_outbox_backlog", state="pending")
                == value(before, "portal_outbox_backlog", state="pending") + 1)
        assert value(waiting, "portal_metrics_source_up", source="database") == 1
        run_jobs()
        sent = scrape(client)
    assert [m["To"] for m in mailbox.messages] == ["ana@example.org"]
    assert value(sent, "portal_job_queue_depth") == 0
    assert value(sent, "portal_outbox_backlog", state="pending") == value(
        before, "portal_outbox_backlog", state="pending")


def test_a_failed_job_is_counted_by_task_name(metrics_on, client):
    before = scrape(client)
    with queued_jobs(metrics_on):
        outbox_tasks.deliver("not-a-uuid")  # raises ValueError when it runs
        assert run_jobs() == 1
    after = scrape(client)
    assert (value(after, "portal_job_failures_total", task="deliver")
            == value(before, "portal_job_failures_total", task="deliver") + 1)


def test_a_consumer_serves_its_own_job_failures_on_loopback(app, tmp_path, monkeypatch,
                                                            smtp_server):
    queue = tmp_path / "jobs.sqlite"
    previous = app.extensions["jobs"]
    app.extensions["jobs"] = jobs.Queue(SqliteStorage(app.config["JOBS_QUEUE_NAME"],
                                                      filename=str(queue)), immediate=False)
    try:
        outbox_tasks.deliver("not-a-uuid")
    finally:
        app.extensions["jobs"] = previous
    port = free_port()
    monkeypatch.setenv("PORTAL_WORKER_METRICS_PORT", str(port))
    monkeypatch.delenv("PORTAL_WORKER_METRICS_ADDR", raising=False)
    consumer = start_consumer(app, queue, smtp_server.port, tmp_path / "consumer.log")

    def failures() -> float:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as page:
                return value(samples(page.read().decode()), "portal_job_failures_total",
                             task="deliver")
        except OSError:
            return 0
    try:
        wait_until(lambda: failures() == 1, "the consumer's failure count")
    finally:
        stop(consumer)


# --- production settings ---------------------------------------------------------------

def test_production_refuses_a_short_metrics_token_but_not_none():
    problem = "PORTAL_METRICS_TOKEN must be at least 32 characters"
    assert any(problem in p for p in config.unsafe_settings({"METRICS_TOKEN": "x" * 31}))
    assert not any("METRICS" in p for p in config.unsafe_settings({"METRICS_TOKEN": "x" * 32}))
    assert not any("METRICS" in p for p in config.unsafe_settings({"METRICS_TOKEN": None}))
    with pytest.raises(RuntimeError, match=problem):
        create_app("production", {**COMPLETE, "METRICS_TOKEN": "short"})
    assert create_app("production", {**COMPLETE, "METRICS_TOKEN": TOKEN}).config[
        "METRICS_TOKEN"] == TOKEN


# --- gunicorn's workers: multiprocess mode ---------------------------------------------

WORKER = """
import sys
from portal import create_app, metrics
from portal.models import Purpose
app = create_app("testing", {"METRICS_TOKEN": sys.argv[2]})
client = app.test_client()
if sys.argv[1] == "serve":
    for _ in range(2):
        assert client.get("/livez").status_code == 200
    metrics.count_upload(Purpose.DOCUMENT_VERSION, 1234)
else:
    response = client.get("/metrics", headers={"Authorization": "Bearer " + sys.argv[2]})
    assert response.status_code == 200, response.status_code
    sys.stdout.write(response.text)
"""


def test_workers_add_up_in_the_multiprocess_directory(database_url, tmp_path):
    directory = tmp_path / "prometheus"
    directory.mkdir()
    env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(directory), "PORTAL_ENV": "testing",
           "PORTAL_DATABASE_URL": database_url, "PYTHONPATH": str(ROOT)}

    def worker(role: str) -> str:
        done = subprocess.run([sys.executable, "-c", WORKER, role, TOKEN], env=env, cwd=ROOT,
                              capture_output=True, text=True, timeout=120, check=False)
        assert done.returncode == 0, done.stderr
        return done.stdout

    worker("serve")
    worker("serve")
    assert {path.name.split("_")[0] for path in directory.glob("*.db")} >= {"counter",
                                                                             "histogram"}
    scraped = samples(worker("scrape"))
    assert value(scraped, "portal_request_duration_seconds_count", endpoint="health.livez",
                 method="GET", status_class="2xx") == 4
    assert value(scraped, "portal_upload_bytes_total", purpose="document_version") == 2468
    assert value(scraped, "portal_metrics_source_up", source="database") == 1


def test_gunicorn_empties_the_multiprocess_directory_at_start(tmp_path, monkeypatch):
    hooks = runpy.run_path(str(ROOT / "gunicorn.conf.py"))
    directory = tmp_path / "prometheus"
    directory.mkdir()
    (directory / "counter_4242.db").write_bytes(b"old")
    (directory / "gauge_livesum_4242.db").write_bytes(b"old")
    hooks["on_starting"](None)  # unset: nothing is touched
    assert len(list(directory.iterdir())) == 2
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(directory))
    hooks["child_exit"](None, SimpleNamespace(pid=4242))  # a dead worker's live gauges go
    assert [p.name for p in directory.iterdir()] == ["counter_4242.db"]
    hooks["on_starting"](None)
    assert list(directory.iterdir()) == []
