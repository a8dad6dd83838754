"""Committing recorded calls: each call's CloudTrail events are built (``record.py``), appended to
the store in one transaction (``store/audit.py``), and the stored events handed to the streams.

:class:`Committer` is synchronous and knows nothing of where it runs: the trail runs it on the
event loop (``trail.py``) or hands the calls to the writer process, which runs it there
(``writer.py``). Either way every call gets an outcome: ``None`` (its events are committed) or the
exception that kept them out, so that a request that waits for its record hears the truth.

A transaction that fails is retried once, then each call's events alone (so that one event the
store refuses cannot take its neighbours' with it); after three failures in a row the store itself
is failing, and the remaining calls fail without a try each.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from typing import Any

from opensts.audit.record import (
    ApiCall, AuthorizationCall, SigninCall, api_call_events, authorization_events, signin_events,
)
from opensts.store.accounts import AccountRepository
from opensts.store.audit import AuditRepository, NewEvent, StoredEvent

log = logging.getLogger("opensts.audit")

ATTEMPTS = 2  # each bounded by the store's lock and statement timeouts (store/audit.py)
KNOWN_ACCOUNTS_REFRESH_SECONDS = 1.0
MAX_UNKNOWN_ACCOUNTS = 10_000

Call = ApiCall | AuthorizationCall | SigninCall
Outcome = BaseException | None


class AuditUnavailable(Exception):
    """The event could not be committed (the store kept failing, or its record could not be built)."""


class Committer:
    def __init__(
        self, audit: AuditRepository, accounts: AccountRepository, default_account: str,
        feed: Callable[[list[StoredEvent]], None],
    ) -> None:
        self._audit = audit
        self._accounts = accounts
        self._default_account = default_account
        self._feed = feed  # the streams, after each commit (in commit order)
        self._known: set[str] = set()
        self._unknown: dict[str, float] = {}  # account id -> when it was found missing (monotonic)

    def commit(self, calls: Sequence[Call]) -> list[Outcome]:
        """Commit the events of ``calls`` (one transaction when all goes well); one outcome per call."""
        outcomes: list[Outcome] = [None] * len(calls)
        built: list[tuple[int, list[NewEvent]]] = []
        for index, call in enumerate(calls):
            try:
                built.append((index, self._events(call)))
            except Exception:  # a bug, or the store failing an account look-up: this call only
                log.exception("could not build an audit record for %s", type(call).__name__)
                outcomes[index] = AuditUnavailable("the audit record could not be built")
        stored, error = self._append([event for _, events in built for event in events])
        if error is not None and len(built) > 1:
            # One call's event may be what the store refuses: commit the others one by one, so
            # that a hostile request cannot take its neighbours' events down with it.
            failures_in_a_row = 0
            for index, events in built:
                if failures_in_a_row >= 3:  # the store itself is failing: do not try every call
                    outcomes[index] = error
                    continue
                one, one_error = self._append(events, attempts=1)
                outcomes[index] = one_error
                failures_in_a_row = failures_in_a_row + 1 if one_error is not None else 0
                stored.extend(one)
        else:
            for index, _ in built:
                outcomes[index] = error
        if stored:
            self._feed(stored)
        return outcomes

    def _append(self, events: list[NewEvent], attempts: int = ATTEMPTS) -> tuple[list[StoredEvent], BaseException | None]:
        error: BaseException | None = None
        for _ in range(attempts):
            try:
                return self._audit.append(events), None
            except Exception as exc:  # noqa: BLE001 - the store may be briefly unreachable
                error = exc
        return [], error

    def _events(self, call: Call) -> list[NewEvent]:
        if isinstance(call, ApiCall):
            return api_call_events(call, self._default_account, self._known_account)
        if isinstance(call, SigninCall):
            return signin_events(call, self._default_account, self._known_account)
        return authorization_events(call, self._default_account, self._known_account)

    def _known_account(self, account_id: str) -> bool:
        """Whether the account exists (events naming other accounts go to the default account).
        Accounts are created, never removed: a known one is remembered for good; an unknown one is
        looked up again after a second at most (unsigned calls may name any account id)."""
        if account_id in self._known:
            return True
        now = time.monotonic()
        checked = self._unknown.get(account_id)
        if checked is not None and now - checked < KNOWN_ACCOUNTS_REFRESH_SECONDS:
            return False
        if self._accounts.get(account_id) is not None:
            self._known.add(account_id)
            self._unknown.pop(account_id, None)
            return True
        if len(self._unknown) >= MAX_UNKNOWN_ACCOUNTS:
            self._unknown.clear()
        self._unknown[account_id] = now
        return False


def unavailable(error: Outcome) -> AuditUnavailable | None:
    """What a waiting request hears for ``error``."""
    if error is None or isinstance(error, AuditUnavailable):
        return error
    return AuditUnavailable(str(error))


def describe(outcomes: Sequence[Outcome]) -> Any:
    """Outcomes as the writer sends them back: ``None`` when all committed, else one message or
    ``None`` per call."""
    if all(outcome is None for outcome in outcomes):
        return None
    return [None if outcome is None else (str(outcome) or type(outcome).__name__) for outcome in outcomes]
