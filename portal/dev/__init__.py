"""Development-only code: the embedded S3 server, the demo firm, the dev
server (``make run``) and the ``seed-demo`` command.

Production code never imports this package: ``portal.cli`` registers its
commands only outside production.
"""
