"""``flask`` commands: accounts, keys and storage; ``flask audit`` is
``portal.audit_trail.cli`` (the demo seed: ``portal.dev.cli``; a busy firm
for benchmarks, ``seed-scale``: ``portal.dev.scale``)."""
from __future__ import annotations

from datetime import timedelta

import click
from flask import Flask, current_app

from portal.auth.services import create_user
from portal.errors import ServiceError
from portal.models import Role


@click.command("create-user")
@click.option("--email", required=True)
@click.option("--name", required=True)
@click.option("--role", type=click.Choice([r.value for r in Role]), default=Role.ADMIN.value,
              show_default=True)
@click.password_option(help="Prompted for when not given.")
def create_user_command(email: str, name: str, role: str, password: str) -> None:
    """Create an account with a password (for the first admin; later
    accounts are best invited from the admin page)."""
    try:
        user = create_user(email, name, Role(role), password)
    except ServiceError as error:
        raise click.ClickException(str(error.message)) from error
    click.echo(f"Created {user.role.value} {user.email} ({user.uuid}).")


@click.command("generate-master-key")
def generate_master_key_command() -> None:
    """Print a new master key for PORTAL_MASTER_KEY (keep it secret and backed up:
    without it no stored file can be read)."""
    from portal.crypto import generate_master_key

    click.echo(generate_master_key())


@click.command("rotate-key")
def rotate_key_command() -> None:
    """Make new data keys primary for new uploads and texts; what older keys
    encrypted stays readable."""
    new_ids = current_app.extensions["crypto"].rotate()
    click.echo(f"New primary data key {new_ids['files']} for files and {new_ids['texts']} for "
               "texts. Older files and texts remain readable.")


@click.command("reconcile-storage")
@click.option("--repair", is_flag=True, help="Fix what is found (otherwise only report).")
@click.option("--grace-minutes", default=60, show_default=True,
              help="Leave objects and uploads younger than this alone (uploads in progress).")
def reconcile_storage_command(repair: bool, grace_minutes: int) -> None:
    """List objects without a stored-object row, rows without an object, and
    unfinished multipart uploads; with --repair, resolve them."""
    from portal.evidence.reconcile import reconcile

    report = reconcile(repair=repair, grace=timedelta(minutes=grace_minutes))
    for obj in report.orphan_objects:
        click.echo(f"orphan object     {obj.key} ({obj.size} bytes)")
    for missing in report.missing_objects:
        click.echo(f"missing object    {missing.key} ({missing.purpose.value} {missing.uuid})")
    for upload in report.stale_uploads:
        click.echo(f"unfinished upload {upload.key} (started {upload.initiated:%Y-%m-%d %H:%M})")
    if report.clean:
        click.echo("Storage and database agree.")
    elif report.repaired:
        click.echo("Repaired: orphans deleted, unfinished uploads aborted, missing rows marked.")
    else:
        click.echo("Run again with --repair to resolve these.")
        raise SystemExit(1)


def init_app(app: Flask) -> None:
    """Register the commands on ``app``."""
    from portal.audit_trail.cli import audit_cli
    from portal.scanning.cli import scan_cli

    for command in (create_user_command, generate_master_key_command,
                    rotate_key_command, reconcile_storage_command, audit_cli, scan_cli):
        app.cli.add_command(command)
    if app.config["PORTAL_ENV"] != "production":
        # Dev-only code stays out of production processes altogether.
        from portal.dev.cli import seed_demo_command
        from portal.dev.scale import seed_scale_command

        app.cli.add_command(seed_demo_command)
        app.cli.add_command(seed_scale_command)
