"""Calling IAM actions in-process, as a chosen principal, with the audit trail recording each call.

IAM as code reads and changes state only through the registered actions (``api.load_actions()``),
exactly as a client over HTTP would: the registry decodes and validates the Query parameters into
the typed request, the action authorizes the caller with the engine, and the call is recorded in
the audit trail as the edge records it (``audit.record.ApiCall``: the same ``userIdentity``,
``requestParameters`` and ``responseElements``, secrets redacted by their type markings), before
the next call is made. The differences from an HTTP call: ``sourceIPAddress`` is ``opensts-cli``,
``userAgent`` names the command and the operating-system user, and the caller's ``accessKeyId`` is
an id made for this run (no such key exists; every call of one run carries the same one, so a run
can be found in the trail). ``aws:SourceIp`` is absent from the request context.

The principal is the account's root by default, or an IAM user or role named by ARN (``--as``); a
role acts as a session ``opensts-iac`` of that role (no trust policy is consulted: whoever runs the
command holds the store already; ``--as`` chooses a smaller set of permissions, never a larger one).
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from opensts import __version__
from opensts.access.restrictions import check_credentials_may_call
from opensts.actions import ActionContext, ActionSpec
from opensts.api import load_actions
from opensts.audit.record import ApiCall, api_call_events, secret_parameter_values
from opensts.errors import AwsError
from opensts.iac.format import IacError
from opensts.identity import arn as arns
from opensts.identity import ids
from opensts.identity.principal import Caller, PrincipalKind

if TYPE_CHECKING:
    from opensts.audit.trail import AuditTrail
    from opensts.runtime import Runtime

SOURCE = "opensts-cli"
ROLE_SESSION_NAME = "opensts-iac"
MAX_CALLS = 200_000  # a run's calls, at most (every loop over the store's entities is bounded)


class ActionFailed(IacError):
    """An action answered an AWS error; ``str()`` is ``Action: Code: message``."""

    def __init__(self, action: str, error: AwsError) -> None:
        self.action = action
        self.error = error
        super().__init__(f"{action}: {error.code}: {error.message}")


@dataclass
class Invoker:
    """Calls actions for one account as one principal, recording each call."""

    runtime: "Runtime"
    caller: Caller
    command: str
    os_user: str | None = None
    trail: "AuditTrail | None" = None
    calls: int = 0
    registry: dict[tuple[str, str], ActionSpec] = field(default_factory=load_actions)

    def has(self, name: str) -> bool:
        return ("iam", name) in self.registry

    def __call__(self, name: str, params: dict[str, Any] | None = None) -> Any:
        spec = self.registry.get(("iam", name))
        if spec is None:
            raise IacError(f"this OpenSTS has no IAM action {name}")
        self.calls += 1
        if self.calls > MAX_CALLS:
            raise IacError(f"more than {MAX_CALLS} IAM calls in one run")
        params = _query(params or {})
        now = self.runtime.clock.now()
        request_id = str(uuid.uuid4())
        call = ApiCall(
            event_time=now, request_id=request_id, service="iam", action=name, read_only=not spec.writes,
            source_ip=SOURCE, user_agent=self._user_agent(), region="us-east-1", host=None, secure=False,
            caller=self.caller,
        )
        try:
            check_credentials_may_call(self.caller, "iam", name)
            request = spec.decode(params)
            call.request = request
            ctx = ActionContext(runtime=self.runtime, caller=self.caller, request_time=now, request_id=request_id)
            result = spec.function(ctx, request)
        except AwsError as error:
            call.error = error
            call.secret_params = secret_parameter_values(spec.request_type, params)
            self._record(call)
            raise ActionFailed(name, error) from None
        call.result = result
        self._record(call)
        return result

    def _user_agent(self) -> str:
        user = f"; user {self.os_user}" if self.os_user else ""
        return f"opensts-cli/{__version__} ({self.command}{user})"

    def _record(self, call: ApiCall) -> None:
        if self.trail is None:
            return
        store = self.runtime.store
        events = api_call_events(call, self.runtime.default_account_id, lambda a: store.accounts.get(a) is not None)
        self.trail.record_now(events)  # committed before the next call (as the edge does for writes)


def _query(value: Any) -> Any:
    """Parameters as the Query protocol carries them: every leaf a string (``true``, ``3600``)."""
    if isinstance(value, dict):
        return {k: _query(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_query(v) for v in value]
    if isinstance(value, bool):
        return "true" if value else "false"
    return value if isinstance(value, str) else str(value)


def run_key_id(account_id: str, temporary: bool) -> str:
    """The access key id this run's calls carry (no such key exists)."""
    return ids.new_temporary_access_key_id(account_id) if temporary else ids.new_long_term_access_key_id(account_id)


def principal(runtime: "Runtime", account_id: str, as_arn: str | None) -> Caller:
    """The caller: root of ``account_id``, or the user or role ``as_arn`` names (in that account)."""
    if as_arn is None:
        return Caller(PrincipalKind.ROOT, account_id, arns.root_arn(account_id), account_id, run_key_id(account_id, False))
    try:
        parsed = arns.Arn.parse(as_arn)
    except ValueError:
        raise IacError(f"--as {as_arn!r} is not an ARN") from None
    if parsed.service != "iam" or parsed.account != account_id:
        raise IacError(f"--as {as_arn} is not an IAM user or role of account {account_id}")
    kind, _, rest = parsed.resource.partition("/")
    name = rest.rsplit("/", 1)[-1]
    if kind == "user":
        user = runtime.store.users.get(account_id, name)
        if user is None or arns.user_arn(account_id, user.name, user.path) != as_arn:
            raise IacError(f"--as {as_arn}: no such user")
        return Caller(
            PrincipalKind.USER, account_id, as_arn, user.user_id, run_key_id(account_id, False),
            entity_id=user.user_id, user_name=user.name,
        )
    if kind == "role":
        role = runtime.store.roles.get(account_id, name)
        if role is None or arns.role_arn(account_id, role.name, role.path) != as_arn:
            raise IacError(f"--as {as_arn}: no such role")
        return _role_session(account_id, role.role_id, role.name, as_arn)
    if parsed.resource == "root":
        return principal(runtime, account_id, None)
    raise IacError(f"--as {as_arn} is not an IAM user or role")


def _role_session(account_id: str, role_id: str, role_name: str, role_arn: str) -> Caller:
    from opensts.server.auth import caller_from_session
    from opensts.tokens.session_token import SessionClaims

    now = int(time.time())
    claims = SessionClaims(
        access_key_id=run_key_id(account_id, True), secret_access_key=ids.new_secret_access_key(),
        account_id=account_id, kind="assumed-role",
        principal_arn=arns.assumed_role_arn(account_id, role_name, ROLE_SESSION_NAME),
        principal_id=f"{role_id}:{ROLE_SESSION_NAME}", source_arn=role_arn, source_id=role_id,
        issued_at=now, expires_at=now + 3600,
    )
    return caller_from_session(claims)
