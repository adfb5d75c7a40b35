"""What job consumers run: ``huey_consumer portal.worker.huey -w 4 -k thread``.

Builds the app from the environment (``PORTAL_ENV``, production by default,
and the same ``PORTAL_*`` settings as the web app) and makes jobs run in its
context; ``jobs.serve`` imports every feature's tasks so the consumer knows them.
With ``PORTAL_WORKER_METRICS_PORT`` set, the consumer's own counters (job
failures, bytes its jobs read and stored) are served there (``portal.metrics``).
"""
from portal import create_app, jobs, metrics

app = create_app()
jobs.serve(app)
metrics.serve_worker(app)
huey = jobs.huey
