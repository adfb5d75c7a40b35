"""What job consumers run: ``huey_consumer portal.worker.huey -w 4 -k thread``.

Builds the app from the environment (``PORTAL_ENV``, production by default,
and the same ``PORTAL_*`` settings as the web app) and makes jobs run in its
context; ``jobs.serve`` imports every feature's tasks so the consumer knows them.
"""
from portal import create_app, jobs

app = create_app()
jobs.serve(app)
huey = jobs.huey
