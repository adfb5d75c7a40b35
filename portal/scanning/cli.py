"""``flask scan``: commands of malware scanning."""
from __future__ import annotations

from datetime import datetime, timezone

import click
from flask import current_app
from flask.cli import AppGroup

from portal.scanning import clamav, services

scan_cli = AppGroup("scan", help="Malware scanning of stored files.")


@scan_cli.command("rescan")
@click.option("--since", required=True, type=click.DateTime(formats=["%Y-%m-%d"]),
              help="Files uploaded on or after this day (YYYY-MM-DD, UTC).")
def rescan_command(since: datetime) -> None:
    """Scan again every file uploaded since a day (after a signature update,
    or once the scanner is back): files that could not be scanned are
    opened if clean; a file found infected now is quarantined."""
    if not clamav.enabled(current_app.config):
        click.echo("Scanning is off (PORTAL_SCANNING=off): nothing to do.")
        raise SystemExit(1)
    queued = services.rescan(since.replace(tzinfo=timezone.utc))
    click.echo(f"Queued {queued} files for scanning.")
