"""Background jobs on Huey: the queue, and tasks that run inside an app context.

Huey binds each task at import time to one ``Huey`` object, and the consumer
command (``huey_consumer portal.worker.huey``) needs it as a module attribute,
so there is one ``huey`` here. Its queue is not fixed at import, though: each
app brings its own (``app.extensions['jobs']``, built from its settings by
``init_app``), and ``huey`` uses the queue of the app in context, or of the
app ``portal.worker`` serves when there is none (the consumer's own threads).

Features declare their jobs in their ``tasks.py`` with ``task()`` and
``periodic_task()``, and enqueue them with ``after_commit()`` so a job never
runs for a change that was rolled back.
"""
from __future__ import annotations

import functools
import importlib
import logging
import threading
from collections.abc import Callable
from pathlib import Path

from flask import Flask, current_app, has_app_context
from huey import Huey
from huey.storage import BaseStorage, MemoryStorage, RedisStorage, SqliteStorage
from sqlalchemy import event
from sqlalchemy.orm import Session

log = logging.getLogger(__name__)
_AFTER_COMMIT = "portal.jobs.after_commit"


class Queue:
    """Where an app's jobs go, and whether they run at once instead. The
    storage is opened on first use (a SQLite queue file is created then),
    so building an app touches nothing."""

    def __init__(self, open_storage: Callable[[], BaseStorage] | BaseStorage,
                 immediate: bool):
        self._open = open_storage if callable(open_storage) else (lambda: open_storage)
        self._storage: BaseStorage | None = None
        self._lock = threading.Lock()
        self.immediate = immediate

    @property
    def storage(self) -> BaseStorage:
        with self._lock:
            if self._storage is None:
                self._storage = self._open()
            return self._storage


_served: Flask | None = None  # the app a consumer process runs jobs for


def _app() -> Flask:
    if has_app_context():
        return current_app._get_current_object()
    if _served is None:
        raise RuntimeError("no app: run consumers with portal.worker")
    return _served


class PortalHuey(Huey):
    """A Huey whose storage and immediate mode are those of the current app."""

    def create_storage(self) -> None:
        return None  # each app brings its own (see ``storage``)

    @property
    def storage(self) -> BaseStorage:
        return _app().extensions["jobs"].storage

    @storage.setter
    def storage(self, value) -> None:
        pass  # Huey.__init__ sets one; each app brings its own instead

    @property
    def _immediate(self) -> bool:
        return _app().extensions["jobs"].immediate

    @_immediate.setter
    def _immediate(self, value) -> None:
        pass

    def create_consumer(self, **options):
        """The consumer ``huey_consumer`` runs. With JSON logs, the text
        handler it has just given the ``huey`` logger is dropped: the root's
        JSON handler (``portal.logs``) writes those lines, once each."""
        if _app().config.get("LOG_FORMAT") == "json":
            logging.getLogger("huey").handlers.clear()
        return super().create_consumer(**options)


huey = PortalHuey("portal", results=False, immediate_use_memory=False)


def _queue(app: Flask) -> Queue:
    config = app.config
    name = config["JOBS_QUEUE_NAME"]
    if config["JOBS_IMMEDIATE"]:
        return Queue(lambda: MemoryStorage(name), immediate=True)
    if config.get("REDIS_URL"):
        return Queue(lambda: RedisStorage(name, url=config["REDIS_URL"]), immediate=False)
    path = Path(config.get("JOBS_SQLITE_PATH") or Path(app.instance_path) / "jobs.sqlite")

    def open_sqlite() -> SqliteStorage:
        # Jobs carry email addresses: the file is its owner's only (SQLite's
        # journals take its mode).
        path.touch(mode=0o600, exist_ok=True)
        path.chmod(0o600)
        return SqliteStorage(name, filename=str(path))
    return Queue(open_sqlite, immediate=False)


def init_app(app: Flask) -> None:
    """Give ``app`` its job queue (``app.extensions['jobs']``): Redis with
    ``REDIS_URL``, else a SQLite file; in memory and run at once when
    ``JOBS_IMMEDIATE`` is on."""
    app.extensions["jobs"] = _queue(app)


# Every feature's tasks module: a consumer must import them all to know their jobs.
TASK_MODULES = ("portal.audit_trail.tasks", "portal.auth.tasks", "portal.evidence.tasks",
                "portal.messages.tasks", "portal.outbox.tasks", "portal.previews.tasks",
                "portal.requests.tasks", "portal.scanning.tasks", "portal.uploads.tasks",
                "portal.uscis.tasks")


def serve(app: Flask) -> None:
    """Make ``app`` the one a consumer in this process runs jobs for, and
    register every feature's jobs (``TASK_MODULES``)."""
    global _served
    _served = app
    for module in TASK_MODULES:
        importlib.import_module(module)


def _in_app_context(func):
    """Run ``func`` in an app context of its own (its own database session,
    as in a consumer), even when enqueued from a request in immediate mode."""
    @functools.wraps(func)
    def run(*args, **kwargs):
        with _app().app_context():
            return func(*args, **kwargs)
    return run


def task(**settings):
    """Declare a job: ``@jobs.task()`` over a function of plain arguments
    (ids and strings: never database objects)."""
    def decorate(func):
        return huey.task(**settings)(_in_app_context(func))
    return decorate


def periodic_task(schedule, **settings):
    """Declare a job the consumer runs on ``schedule`` (a ``huey.crontab``)."""
    def decorate(func):
        return huey.periodic_task(schedule, **settings)(_in_app_context(func))
    return decorate


def after_commit(session: Session, job, *args) -> None:
    """Enqueue ``job(*args)`` once ``session`` commits; never if it rolls back."""
    session.info.setdefault(_AFTER_COMMIT, []).append((job, args))


@event.listens_for(Session, "after_commit")
def _enqueue_committed(session: Session) -> None:
    for job, args in session.info.pop(_AFTER_COMMIT, []):
        try:
            job(*args)
        # The queue is down: the change stays committed. An outbox row is sent
        # by the periodic sweep later; a reset request's job is lost (asked again).
        except Exception:
            log.exception("could not enqueue %s", getattr(job, "name", job))


@event.listens_for(Session, "after_soft_rollback")
def _forget_rolled_back(session: Session, previous_transaction) -> None:
    session.info.pop(_AFTER_COMMIT, None)
