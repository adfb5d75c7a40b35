"""Prometheus metrics: ``GET /metrics`` for a scraper holding
``PORTAL_METRICS_TOKEN``, and a job consumer's own port.

What is measured: each request's time until its response is ready (for a
streamed download, until its first bytes), labelled by the endpoint's name
(never its path: paths carry case and document UUIDs), method and status
class; plaintext bytes the vault stores and hands out, by purpose; jobs that
failed, by task name; and, counted at scrape time by one COUNT query each,
the job queue, the emails not sent yet and the files the scanner has not
cleared. No label ever names a person, a case, a file or an address.

gunicorn's workers are processes: with ``PROMETHEUS_MULTIPROC_DIR`` set
(``gunicorn.conf.py`` wipes it at start and clears dead workers), each writes
its counters there and a scrape adds them up (prometheus_client's
multiprocess mode; no ``Gauge`` is kept, so no ``multiprocess_mode`` is
needed). Without it (``make run``, the tests) this process's registry is
read. A job consumer, maybe on another machine, serves its own counters
(job failures, the bytes its scans and previews read) on
``PORTAL_WORKER_METRICS_PORT`` (``serve_worker``).
"""
from __future__ import annotations

import hmac
import logging
import os
import time
from collections.abc import Iterator

from flask import Blueprint, Flask, Response, abort, current_app, g, request, request_started
from huey.signals import SIGNAL_ERROR, SIGNAL_TIMEOUT
from prometheus_client import REGISTRY, CollectorRegistry, Counter, Histogram, start_http_server
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.exposition import choose_encoder
from prometheus_client.multiprocess import MultiProcessCollector
from sqlalchemy import func, select
from sqlalchemy.exc import SQLAlchemyError

from portal import jobs
from portal.extensions import db, limiter
from portal.models import DocumentVersion, OutboxMessage, OutboxState, Purpose, ScanState

log = logging.getLogger(__name__)
bp = Blueprint("metrics", __name__)

MULTIPROC_DIR = "PROMETHEUS_MULTIPROC_DIR"
# Any other method (a client may send any token) is counted as "other", so a
# scanner cannot grow the number of series.
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
# Uploads stream inside their request: minutes, not milliseconds.
DURATION_BUCKETS = (.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60, 300, float("inf"))

REQUEST_DURATION = Histogram(
    "portal_request_duration_seconds",
    "Time until a request's response is ready (a streamed download: its first bytes), "
    "by endpoint name, method and status class",
    ["endpoint", "method", "status_class"], buckets=DURATION_BUCKETS)
UPLOAD_BYTES = Counter(
    "portal_upload_bytes", "Plaintext bytes encrypted and stored by the vault, by purpose",
    ["purpose"])
DOWNLOAD_BYTES = Counter(
    "portal_download_bytes",
    "Plaintext bytes the vault decrypted and handed out (downloads, and in a consumer its "
    "scans and previews), by purpose", ["purpose"])
JOB_FAILURES = Counter(
    "portal_job_failures", "Jobs that raised or timed out, each attempt, by task name",
    ["task"])

# What /metrics counts at scrape time: emails not sent yet, and versions
# nobody but their uploader may open yet (waiting for the scanner, or quarantined).
OUTBOX_UNSENT = tuple(state for state in OutboxState if state is not OutboxState.SENT)
SCAN_UNCLEARED = (ScanState.SCANNING, ScanState.FAILED, ScanState.INFECTED)


# --- counting (called by the vault and by Huey) -------------------------------------------

def count_upload(purpose: Purpose, size: int) -> None:
    """``size`` plaintext bytes were stored for ``purpose`` (once per object)."""
    UPLOAD_BYTES.labels(purpose.value).inc(size)


def count_download(purpose: Purpose | None, size: int) -> None:
    """``size`` plaintext bytes were handed out for ``purpose`` (once per chunk;
    an object not recorded yet has none)."""
    DOWNLOAD_BYTES.labels(purpose.value if purpose is not None else "unrecorded").inc(size)


@jobs.huey.signal(SIGNAL_ERROR, SIGNAL_TIMEOUT)
def count_job_failure(signal: str, task, exc: BaseException | None = None) -> None:
    """Huey's receiver for a job that raised or timed out (connected once, on import)."""
    JOB_FAILURES.labels(task.name).inc()


# --- request latency ---------------------------------------------------------------------

def _start_timer(sender: Flask, **extra) -> None:
    # request_started comes before every before_request, so a request that
    # the sign-in check turns away is timed too.
    g.metrics_started = time.perf_counter()


def _observe(response: Response) -> Response:
    started = g.pop("metrics_started", None)
    if started is not None:
        rule = request.url_rule
        method = request.method if request.method in METHODS else "other"
        REQUEST_DURATION.labels(rule.endpoint if rule is not None else "unmatched", method,
                                f"{response.status_code // 100}xx").observe(
                                    time.perf_counter() - started)
    return response


# --- what a scrape counts ----------------------------------------------------------------

def _gauge(name: str, documentation: str, label: str, counts: dict[str, int]) -> Metric:
    family = GaugeMetricFamily(name, documentation, labels=[label])
    for value, count in counts.items():
        family.add_metric([value], count)
    return family


class PortalState:
    """A collector of the current app's backlogs, asked in the scraping
    request: the job queue (Huey's storage) and, in one grouped COUNT each,
    the outbox and the scanner's backlog. A source that does not answer
    reports ``portal_metrics_source_up 0`` instead of failing the scrape."""

    def collect(self) -> Iterator[Metric]:
        up = GaugeMetricFamily("portal_metrics_source_up",
                               "Whether a scrape-time source answered (1) or not (0)",
                               labels=["source"])
        try:
            # A length each (Redis LLEN and ZCARD; one COUNT on a SQLite queue).
            waiting, scheduled = jobs.huey.pending_count(), jobs.huey.scheduled_count()
        except Exception as error:  # noqa: BLE001 - any queue outage: Redis, a SQLite file
            log.warning("metrics: job queue unavailable: %s", error.__class__.__name__)
            up.add_metric(["queue"], 0)
        else:
            up.add_metric(["queue"], 1)
            yield GaugeMetricFamily("portal_job_queue_depth", "Jobs waiting for a consumer",
                                    value=waiting)
            yield GaugeMetricFamily("portal_job_scheduled",
                                    "Jobs scheduled for later (delayed, or a retry waiting)",
                                    value=scheduled)
        try:
            outbox = _grouped(OutboxMessage.state, OUTBOX_UNSENT)
            scans = _grouped(DocumentVersion.scan_state, SCAN_UNCLEARED)
        except SQLAlchemyError as error:
            db.session.rollback()
            log.warning("metrics: database unavailable: %s", error.__class__.__name__)
            up.add_metric(["database"], 0)
        else:
            up.add_metric(["database"], 1)
            yield _gauge("portal_outbox_backlog",
                         "Emails not sent yet, by state (pending, retry, sending: on their way; "
                         "failed, unknown: an admin decides)", "state", outbox)
            yield _gauge("portal_scan_backlog",
                         "Document versions the scanner has not cleared, by state (scanning: "
                         "waiting; failed, infected: quarantined)", "state", scans)
        yield up


def _grouped(column, states) -> dict[str, int]:
    """Rows per state among ``states``: one COUNT over the column's index."""
    counts = {state.value: 0 for state in states}
    rows = db.session.execute(select(column, func.count()).where(column.in_(states))
                              .group_by(column))
    for state, count in rows:
        counts[state.value] = count
    return counts


def multiprocess_dir() -> str | None:
    """The directory of multiprocess mode, when it is on."""
    return os.environ.get(MULTIPROC_DIR) or None


def process_registry() -> CollectorRegistry:
    """Counters of this process, or of every process writing to the
    multiprocess directory (made per scrape, as prometheus_client asks)."""
    if not multiprocess_dir():
        return REGISTRY
    registry = CollectorRegistry()
    MultiProcessCollector(registry)
    return registry


def scrape_registry() -> CollectorRegistry:
    """What ``/metrics`` shows: the counters and the current app's backlogs."""
    registry = CollectorRegistry()
    registry.register(_Forward(process_registry()))
    registry.register(PortalState())
    return registry


class _Forward:
    """Another registry's metrics, as one collector of a scrape's registry."""

    def __init__(self, source: CollectorRegistry):
        self.source = source

    def collect(self) -> Iterator[Metric]:
        return self.source.collect()


# --- the endpoint ------------------------------------------------------------------------

def _off() -> bool:
    return not current_app.config["METRICS_TOKEN"]


def _refused(response: Response) -> bool:
    return response.status_code == 404


def _bearer_matches(token: str) -> bool:
    scheme, _, offered = request.headers.get("Authorization", "").partition(" ")
    # compare_digest on bytes: it refuses non-ASCII text, which a client may send.
    return (scheme.lower() == "bearer"
            and hmac.compare_digest(offered.strip().encode(), token.encode()))


@bp.route("/metrics")
# Only refusals count, per address (a scraper with the right token uses up nothing;
# one whose address also sent wrong ones waits like them). Off, nothing is counted,
# so a 429 never shows that the route exists.
@limiter.limit(lambda: current_app.config["METRICS_LIMIT"], deduct_when=_refused,
               exempt_when=_off)
def show_metrics():
    """The Prometheus text format, for ``Authorization: Bearer
    <PORTAL_METRICS_TOKEN>``. No token set, or a wrong or missing one: the
    404 of any unknown page. Public for the sign-in check (the token is the
    credential); no session is read or written."""
    token = current_app.config["METRICS_TOKEN"]
    if not token or not _bearer_matches(token):
        abort(404)
    encoder, content_type = choose_encoder(request.headers.get("Accept", ""))
    return Response(encoder(scrape_registry()), content_type=content_type)


def init_app(app: Flask) -> None:
    """Time every request of ``app`` and serve ``/metrics``."""
    request_started.connect(_start_timer, app)
    app.after_request(_observe)
    app.register_blueprint(bp)


# --- a job consumer's own port -----------------------------------------------------------

def serve_worker(app: Flask) -> None:
    """In a job consumer: serve this process's counters (or the multiprocess
    directory's, for ``-k process``) over plain HTTP on
    ``PORTAL_WORKER_METRICS_PORT`` at ``PORTAL_WORKER_METRICS_ADDR``
    (loopback unless set: an internal port, without a token). Nothing when
    no port is set."""
    port = app.config["WORKER_METRICS_PORT"]
    if not port:
        return
    start_http_server(port, addr=app.config["WORKER_METRICS_ADDR"],
                      registry=process_registry())
    log.info("job metrics on %s:%s", app.config["WORKER_METRICS_ADDR"], port)
