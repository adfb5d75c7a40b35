"""``flask seed-demo``: available in development and testing only."""
from __future__ import annotations

import click

from portal.dev import demo


@click.command("seed-demo")
def seed_demo_command() -> None:
    """Create the demo firm once (does nothing if it exists) and print its logins."""
    created = demo.seed()
    click.echo("Demo firm created." if created else "Demo firm already present.")
    demo.print_logins(click.echo)
