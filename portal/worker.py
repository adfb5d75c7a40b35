"""What job consumers run: ``huey_consumer portal.worker.huey -w 4 -k thread``.

Builds the app from the environment (``PORTAL_ENV``, production by default,
and the same ``PORTAL_*`` settings as the web app), makes jobs run in its
context, and imports every feature's tasks so the consumer knows them.
"""
from portal import create_app, jobs
from portal.auth import tasks as _auth_tasks  # noqa: F401  (registers the jobs)
from portal.outbox import tasks as _outbox_tasks  # noqa: F401

app = create_app()
jobs.serve(app)
huey = jobs.huey
