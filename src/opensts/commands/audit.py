"""``opensts audit``: read, follow and verify the audit trail of a store (docs/AUDIT.md).

Each subcommand lives in its own module; this group gathers them.
"""

from __future__ import annotations

import click

from opensts.commands.audit_query import query
from opensts.commands.audit_verify import tail, verify


@click.group()
def audit() -> None:
    """Read, follow and verify the audit trail (docs/AUDIT.md)."""


audit.add_command(query)
audit.add_command(tail)
audit.add_command(verify)
