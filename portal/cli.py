"""``flask`` commands: accounts and demo data."""
from __future__ import annotations

import click
from flask import Flask

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
        raise click.ClickException(str(error.message))
    click.echo(f"Created {user.role.value} {user.email} ({user.uuid}).")


@click.command("seed-demo")
def seed_demo_command() -> None:
    """Create the demo firm once (does nothing if it exists) and print its logins."""
    from portal import demo

    created = demo.seed()
    click.echo("Demo firm created." if created else "Demo firm already present.")
    demo.print_logins(click.echo)


def init_app(app: Flask) -> None:
    """Register the commands on ``app``."""
    for command in (create_user_command, seed_demo_command):
        app.cli.add_command(command)
