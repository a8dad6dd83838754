"""``opensts audit``: read, follow and verify the audit trail of a store (docs/AUDIT.md).

Each subcommand lives in its own module; this group gathers them.
"""

from __future__ import annotations

import click


@click.group()
def audit() -> None:
    """Read, follow and verify the audit trail (docs/AUDIT.md)."""


from opensts.commands.audit_verify import tail, verify  # noqa: E402 - the group first, then its commands

audit.add_command(verify)
audit.add_command(tail)
