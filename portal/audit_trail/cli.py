"""``flask audit``: commands of the audit trail."""
from __future__ import annotations

import click
from flask.cli import AppGroup

from portal import audit

audit_cli = AppGroup("audit", help="The audit trail.")


@audit_cli.command("verify")
def verify_command() -> None:
    """Walk the chain in order, recomputing every hash. Exits 1 at the first
    broken link, naming the row and why; else prints the rows and the head
    hash (compare it with the one logged that day)."""
    report = audit.verify()
    if report.broken is not None:
        row = report.broken
        click.echo(f"Broken at row {row.id} (sequence {row.sequence}, "
                   f"{row.occurred_at.isoformat()}, {row.action}): {row.reason}.")
        click.echo(f"The {report.rows} rows before it are intact.")
        raise SystemExit(1)
    click.echo(f"Audit chain intact: {report.rows} rows, head {report.head}.")
