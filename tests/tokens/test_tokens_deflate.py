"""The stored-block shortcut must be a raw DEFLATE stream that any inflater reads, and be recognised exactly."""
from __future__ import annotations

import zlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from opensts.tokens.deflate import stored_block, stored_block_payload


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=3000))
def test_stored_blocks_inflate_with_zlib_and_are_recognised(data: bytes) -> None:
    stream = stored_block(data)
    assert zlib.decompress(stream, -15) == data
    assert stored_block_payload(stream, len(data)) == data
    assert stored_block_payload(stream, len(data) - 1) is None  # longer than the caller allows


@settings(max_examples=300, deadline=None)
@given(st.binary(min_size=1, max_size=500))
def test_compressed_streams_are_not_taken_for_stored_blocks(data: bytes) -> None:
    stream = zlib.compress(data, 9, -15)
    payload = stored_block_payload(stream, 0xFFFF)
    assert payload is None or payload == data  # zlib may itself choose one stored block: same bytes


def test_stored_blocks_are_bounded() -> None:
    assert stored_block_payload(stored_block(b"x" * 0xFFFF), 0xFFFF) == b"x" * 0xFFFF
    with pytest.raises(ValueError):
        stored_block(b"x" * 0x10000)
