"""Raw DEFLATE (RFC 1951) for the token formats, with the stored-block shortcut.

A payload sent as one final *stored* block is still a valid raw DEFLATE stream (any inflater reads
it), but building it costs nothing, while zlib's compressor costs several microseconds per call
in set-up alone. The formats use it for small payloads, where compression saves little.
"""

from __future__ import annotations

STORED_BLOCK_MAX = 0xFFFF  # one stored block holds at most 65,535 bytes


def stored_block(data: bytes) -> bytes:
    """``data`` as a single final stored block: BFINAL=1, BTYPE=00, LEN, NLEN (RFC 1951 §3.2.4), then the bytes."""
    n = len(data)
    if n > STORED_BLOCK_MAX:
        raise ValueError("a stored block holds at most 65,535 bytes")
    return b"\x01" + n.to_bytes(2, "little") + (n ^ 0xFFFF).to_bytes(2, "little") + data


def stored_block_payload(stream: bytes, max_size: int) -> bytes | None:
    """The payload when ``stream`` is exactly one final stored block of at most ``max_size`` bytes."""
    n = len(stream) - 5
    if 0 <= n <= max_size and stream[0] == 1 and stream[1:3] == n.to_bytes(2, "little") \
            and stream[3:5] == (n ^ 0xFFFF).to_bytes(2, "little"):
        return stream[5:]
    return None
