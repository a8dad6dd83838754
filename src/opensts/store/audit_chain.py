"""The audit trail's hash chain: how an event's ``chain_hash`` commits to it and to its predecessor.

Each account's events are numbered 1, 2, 3...; event N's hash is SHA-256 over the account id, N,
event N-1's hash (64 zeros for event 1) and the record's exact JSON text. Changing, removing,
inserting or reordering an event breaks every later link, which ``opensts audit verify`` finds
(``audit/verify.py``). Pure functions: the store calls them inside the transaction that appends.
"""

from __future__ import annotations

import hashlib

GENESIS_HASH = "0" * 64


def chain_hash(account_id: str, seq: int, previous_hash: str, record: str) -> str:
    """The hash of event ``seq`` of ``account_id``'s chain."""
    digest = hashlib.sha256(f"{account_id}|{seq}|{previous_hash}|".encode())
    digest.update(record.encode())
    return digest.hexdigest()
