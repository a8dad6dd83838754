"""Tamper evidence: signed checkpoints of each account's audit chain, and ``opensts audit verify``.

The chain (``store/audit_chain.py``) makes every event commit to the one before it, but its hash is
not keyed: someone who can write to the database could rewrite a record and rehash everything after
it. Checkpoints close that gap. Every ``audit_checkpoint_seconds`` the server signs, for each account
whose chain grew, the statement "the chain had reached seq N with hash H at time T"
(:func:`sign_checkpoints`); it signs a head only after re-checking the links from the previous
checkpoint up to it, so a rewrite is never laundered into a signature.

Signature: ``HMAC-SHA256(key, "opensts/v1/audit-checkpoint|" kind "|" account "|" seq "|" hash "|"
signed_at)``, hex, where ``signed_at`` is ``YYYY-MM-DDTHH:MM:SSZ`` and ``kind`` is ``head`` (the
periodic checkpoints) or ``pruned`` (the boundary retention cuts the chain at, ``retention.py``).
The key is ``HKDF-SHA256(master key, info="opensts/v1/derive/audit-checkpoint")``.

Deviation from the issue ("a key from the key ring"): key-ring keys are pruned about 36 hours after
a rotation, but checkpoints must verify for the whole retention window (90 days by default); and a
key held only by the data directory (or ``OPENSTS_MASTER_KEY``) means that write access to the
database alone is not enough to forge a checkpoint.

:func:`verify` checks, per account, and reports the first problem it finds:

1. every checkpoint's signature (``bad-signature``);
2. that the point where retention cut the chain (the head's ``pruned_seq``/``pruned_hash``) is a
   signed ``pruned`` checkpoint (``unsigned-boundary``): deleting old events and moving the
   boundary is caught;
3. the events in seq order: seq continuity (``deleted``), each link recomputed (``modified``,
   ``inserted``, ``reordered``: classified from how the following events link), events beyond the
   head (``inserted``), the chain at each checkpoint equal to the signed hash (``modified``: the
   chain was rehashed between two checkpoints);
4. the tail: a checkpoint or the head beyond the last event (``truncated``), the head's hash.

Limits (docs/AUDIT.md): events appended after the newest checkpoint can be removed or rewritten
undetectably together with the head by someone with write access to the database; at most
``audit_checkpoint_seconds`` of events are exposed that way. The streams (``--audit-log``,
``--audit-dir``) give a copy outside the database.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
from dataclasses import dataclass, field
from datetime import datetime, timezone
from itertools import islice
from typing import TYPE_CHECKING

from opensts.store.audit import ChainHead, Checkpoint, StoredEvent
from opensts.store.audit_chain import GENESIS_HASH, chain_hash

if TYPE_CHECKING:
    from opensts.runtime import Runtime
    from opensts.store import Store

log = logging.getLogger("opensts.audit")

CHECKPOINT_PURPOSE = "audit-checkpoint"
HEAD = "head"
PRUNED = "pruned"
LOOKAHEAD = 1000  # events read past a broken link to tell what happened there

__all__ = ["CheckpointSigner", "Problem", "AccountResult", "Report", "verify", "sign_checkpoints", "signer_for"]


class CheckpointSigner:
    """Signs and checks checkpoints with one HMAC key. ``repr`` never shows the key."""

    __slots__ = ("_key",)

    def __init__(self, key: bytes) -> None:
        if len(key) < 32:
            raise ValueError("a checkpoint key is at least 32 bytes")
        self._key = bytes(key)

    def __repr__(self) -> str:
        return "CheckpointSigner()"

    def _mac(self, kind: str, account_id: str, seq: int, hash_: str, signed_at: datetime) -> str:
        message = f"opensts/v1/audit-checkpoint|{kind}|{account_id}|{seq}|{hash_}|{_when(signed_at)}"
        return hmac.new(self._key, message.encode(), hashlib.sha256).hexdigest()

    def sign(self, account_id: str, seq: int, hash_: str, *, kind: str = HEAD,
             now: datetime | None = None) -> Checkpoint:
        signed_at = (now or datetime.now(timezone.utc)).astimezone(timezone.utc).replace(microsecond=0)
        return Checkpoint(account_id, seq, hash_, signed_at, self._mac(kind, account_id, seq, hash_, signed_at))

    def kind_of(self, checkpoint: Checkpoint) -> str | None:
        """``head`` or ``pruned`` if the signature is good, else None."""
        for kind in (HEAD, PRUNED):
            expected = self._mac(kind, checkpoint.account_id, checkpoint.seq, checkpoint.chain_hash,
                                 checkpoint.signed_at)
            if hmac.compare_digest(expected, checkpoint.signature):
                return kind
        return None


def signer_for(runtime: "Runtime") -> CheckpointSigner:
    return CheckpointSigner(runtime.master_key.derive(CHECKPOINT_PURPOSE))


def _when(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


# --- Signing ----------------------------------------------------------------------------------------
def sign_checkpoints(runtime: "Runtime", now: datetime | None = None) -> int:
    """Sign every chain head newer than its account's latest checkpoint; returns how many were signed.

    A head is signed only if the events since the previous good checkpoint (or the pruned boundary)
    link up to it; otherwise nothing is signed for that account and an error is logged. Safe to run
    on several workers and nodes at once: a checkpoint that already exists is left as it is."""
    return sign_store_checkpoints(runtime.store, signer_for(runtime), now)


def sign_store_checkpoints(store: "Store", signer: CheckpointSigner, now: datetime | None = None) -> int:
    """:func:`sign_checkpoints` on a store with a signer."""
    latest = store.audit.latest_checkpoints()
    signed = 0
    for head in store.audit.heads():
        previous = latest.get(head.account_id)
        if previous is not None and previous.seq >= head.seq:
            continue
        if previous is not None and previous.seq >= head.pruned_seq and signer.kind_of(previous) is not None:
            start_seq, start_hash = previous.seq, previous.chain_hash
        else:
            start_seq, start_hash = head.pruned_seq, head.pruned_hash
        if not _links(store, head, start_seq, start_hash):
            log.error("audit chain of account %s does not link up to its head (seq %d): not signing it; "
                      "run `opensts audit verify`", head.account_id, head.seq)
            continue
        if store.audit.add_checkpoint(signer.sign(head.account_id, head.seq, head.chain_hash, now=now)):
            signed += 1
    return signed


def _links(store: "Store", head: ChainHead, start_seq: int, start_hash: str) -> bool:
    seq, previous = start_seq, start_hash
    for event in store.audit.chain(head.account_id, after_seq=start_seq):
        if event.seq > head.seq:
            break
        if event.seq != seq + 1 or chain_hash(head.account_id, event.seq, previous, event.record) != event.chain_hash:
            return False
        seq, previous = event.seq, event.chain_hash
    return seq == head.seq and previous == head.chain_hash


# --- Verifying --------------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Problem:
    """What is wrong with an account's chain, first problem only."""

    kind: str  # modified | deleted | inserted | reordered | truncated | bad-signature | unsigned-boundary
    seq: int | None
    event_id: str | None
    message: str


@dataclass(slots=True)
class AccountResult:
    account_id: str
    events: int = 0  # events checked
    first_seq: int = 0
    last_seq: int = 0
    checkpoints: int = 0
    problem: Problem | None = None

    @property
    def intact(self) -> bool:
        return self.problem is None


@dataclass(slots=True)
class Report:
    accounts: list[AccountResult] = field(default_factory=list)

    @property
    def intact(self) -> bool:
        return all(result.intact for result in self.accounts)


def verify(source: "Runtime | Store", key: bytes | None = None) -> Report:
    """Check every account's chain and checkpoints (module docstring). ``source``: a runtime (its
    master key gives the checkpoint key), or a store with ``key`` (``MasterKey.derive("audit-checkpoint")``)."""
    from opensts.store import Store

    if isinstance(source, Store):
        if key is None:
            raise ValueError("verifying a store needs the checkpoint key")
        store, signer = source, CheckpointSigner(key)
    else:
        store, signer = source.store, CheckpointSigner(key) if key is not None else signer_for(source)
    report = Report()
    for head in store.audit.heads():
        result = _verify_account(store, signer, head)
        if result.problem is not None:
            # The store may be live: an append or a retention pass that committed while this account
            # was read shows as events beyond the head read first, or a moved start. Check once more
            # from a fresh head; tampering is still there the second time, a race is not.
            fresh = next((h for h in store.audit.heads() if h.account_id == head.account_id), head)
            if fresh != head:
                result = _verify_account(store, signer, fresh)
        report.accounts.append(result)
    return report


def _verify_account(store: "Store", signer: CheckpointSigner, head: ChainHead) -> AccountResult:
    account = head.account_id
    result = AccountResult(account, first_seq=head.pruned_seq + 1)
    checkpoints = store.audit.checkpoints(account)
    result.checkpoints = len(checkpoints)
    by_seq: dict[int, Checkpoint] = {}
    for checkpoint in checkpoints:
        if signer.kind_of(checkpoint) is None:
            result.problem = Problem("bad-signature", checkpoint.seq, None,
                                     f"the checkpoint at seq {checkpoint.seq} has a bad signature (forged or altered)")
            return result
        by_seq[checkpoint.seq] = checkpoint
    if head.pruned_seq > 0 or head.pruned_hash != GENESIS_HASH:
        boundary = by_seq.get(head.pruned_seq)
        if boundary is None or boundary.chain_hash != head.pruned_hash or signer.kind_of(boundary) != PRUNED:
            result.problem = Problem(
                "unsigned-boundary", head.pruned_seq, None,
                f"the chain is said to start after seq {head.pruned_seq} (retention), but no signed retention "
                "checkpoint vouches for that boundary: events were deleted from the start of the chain",
            )
            return result
    seq, previous, before = head.pruned_seq, head.pruned_hash, head.pruned_hash
    last_event: StoredEvent | None = None
    good_checkpoint = head.pruned_seq
    for event in store.audit.chain(account):
        problem: Problem | None = None
        if event.seq <= head.pruned_seq:
            problem = Problem("inserted", event.seq, event.event_id,
                              f"event {event.event_id} at seq {event.seq} lies in the part of the chain retention removed")
        elif event.seq != seq + 1:
            missing = f"seq {seq + 1}" if event.seq == seq + 2 else f"seqs {seq + 1}..{event.seq - 1}"
            problem = Problem("deleted", seq + 1, None,
                              f"{missing} missing: deleted before event {event.event_id} (seq {event.seq})")
        elif event.seq > head.seq:
            if any(h.account_id == account and h.seq >= event.seq for h in store.audit.heads()):
                break  # appended since the head was read (a live store): checked up to that head
            problem = Problem("inserted", event.seq, event.event_id,
                              f"event {event.event_id} at seq {event.seq} is beyond the chain head (seq {head.seq})")
        elif chain_hash(account, event.seq, previous, event.record) != event.chain_hash:
            problem = _broken_link(store, account, event, previous, before, last_event)
        elif event.seq in by_seq and by_seq[event.seq].chain_hash != event.chain_hash:
            problem = Problem(
                "modified", good_checkpoint + 1, None,
                f"the chain at seq {event.seq} differs from its signed checkpoint: an event in seqs "
                f"{good_checkpoint + 1}..{event.seq} was changed and the chain rehashed",
            )
        if problem is not None:
            result.problem = problem
            return result
        if event.seq in by_seq:
            good_checkpoint = event.seq
        before, previous, seq, last_event = previous, event.chain_hash, event.seq, event
        result.events += 1
        result.last_seq = seq
    beyond = [c.seq for c in checkpoints if c.seq > seq]
    if beyond:
        result.problem = Problem("truncated", seq + 1, None,
                                 f"a checkpoint vouches for seq {beyond[-1]} but the chain ends at seq {seq}: "
                                 f"events {seq + 1}..{beyond[-1]} were removed")
    elif head.seq > seq:
        result.problem = Problem("truncated", seq + 1, None,
                                 f"the head is at seq {head.seq} but the chain ends at seq {seq}: "
                                 f"events {seq + 1}..{head.seq} were removed")
    elif head.chain_hash != previous:
        result.problem = Problem("modified", seq, last_event.event_id if last_event else None,
                                 f"the head's hash differs from the chain's at seq {seq}")
    return result


def _broken_link(store: "Store", account: str, event: StoredEvent, previous: str, before: str,
                 last: StoredEvent | None) -> Problem:
    """``event`` does not link to ``previous`` (the checked hash of the event before it; ``before``
    the one before that). Tell from how the next events link what was done at this seq."""
    n = event.seq
    ahead = list(islice(store.audit.chain(account, after_seq=n, batch=LOOKAHEAD), LOOKAHEAD))
    following = ahead[0] if ahead and ahead[0].seq == n + 1 else None
    here = f"event {event.event_id} at seq {n}"
    # The event before was inserted with a well-made hash: this one is the original event n - 1.
    if last is not None and chain_hash(account, n - 1, before, event.record) == event.chain_hash:
        return Problem("inserted", n - 1, last.event_id,
                       f"event {last.event_id} at seq {n - 1} was inserted (the events after it were renumbered)")
    if following is not None:
        # An event was deleted and the later ones renumbered: this one is the original n + 1.
        if chain_hash(account, n + 2, event.chain_hash, following.record) == following.chain_hash:
            return Problem("deleted", n, event.event_id,
                           f"the event at seq {n} was deleted: {here} was originally at seq {n + 1} "
                           "(the later events were renumbered)")
        # This one was inserted and the later ones renumbered: the next one is the original n.
        if (chain_hash(account, n, previous, following.record) == following.chain_hash
                and chain_hash(account, n + 1, following.chain_hash, event.record) != event.chain_hash):
            return Problem("inserted", n, event.event_id,
                           f"{here} was inserted (the events after it were renumbered)")
    for other in ahead:
        if chain_hash(account, n, previous, other.record) in (other.chain_hash, event.chain_hash):
            return Problem("reordered", n, event.event_id,
                           f"{here} is out of order: event {other.event_id}, now at seq {other.seq}, "
                           f"belongs at seq {n}")
    return Problem("modified", n, event.event_id, f"{here} was modified (its hash does not match its record)")
