"""Audit events of CLI commands that change state (``opensts account create``, ``opensts keys rotate``).

Each is a ``service_event`` (``eventType: AwsServiceEvent``, ``eventSource: opensts.amazonaws.com``)
in the default account's chain, ``userIdentity.invokedBy: "opensts-cli"`` and ``userName`` the
operating-system user who ran the command. No secret is recorded: an account's root secret key
never, only ids. The event goes to the store and to the configured ``--audit-log`` file and
``--audit-dir`` (never to standard output, which is the command's own). Nothing is recorded when
the audit trail is off (``OPENSTS_AUDIT=off``).
"""

from __future__ import annotations

import getpass
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from opensts.runtime import Runtime

INVOKED_BY = "opensts-cli"


def os_user() -> str | None:
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no name for this uid (containers)
        return None


def record_cli_event(runtime: "Runtime", event_name: str, parameters: dict[str, Any] | None,
                     response: dict[str, Any] | None) -> None:
    """Commit one event of this command to the audit trail (before the command reports success)."""
    settings = runtime.settings
    if settings.audit != "on":
        return
    from opensts.audit.record import service_event
    from opensts.audit.streams import streams_for
    from opensts.audit.trail import AuditTrail

    event = service_event(
        account_id=runtime.default_account_id, event_name=event_name, event_time=datetime.now(timezone.utc),
        parameters=parameters, response=response, invoked_by=INVOKED_BY, username=os_user(),
    )
    audit_log = settings.audit_log if settings.audit_log != "-" else None
    trail = AuditTrail(runtime.store, runtime.default_account_id, streams_for(audit_log, settings.audit_dir))
    try:
        trail.record_now([event])
    finally:
        trail.close()
