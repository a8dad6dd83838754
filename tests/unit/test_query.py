"""The Query decoder against botocore's own Query serializer, plus malformed input."""

from __future__ import annotations

from urllib.parse import urlencode

import botocore.session
import pytest
from botocore.serialize import QuerySerializer
from hypothesis import given, settings
from hypothesis import strategies as st

from opensts.errors import AwsError, MalformedQueryString
from opensts.server.query import decode_params, parse_pairs

_session = botocore.session.get_session()
STS_MODEL = _session.get_service_model("sts")
IAM_MODEL = _session.get_service_model("iam")


def serialize(model, operation: str, params: dict) -> str:  # type: ignore[no-untyped-def]
    body = QuerySerializer().serialize_to_request(params, model.operation_model(operation))["body"]
    return body if isinstance(body, str) else urlencode(body)


text = st.text(st.characters(blacklist_categories=["Cs"]), max_size=30)
tags = st.lists(st.fixed_dictionaries({"Key": text, "Value": text}), max_size=5)


@settings(max_examples=150, deadline=None)
@given(
    session_name=text,
    tags=tags,
    transitive=st.lists(text, max_size=4),
    arns=st.lists(st.fixed_dictionaries({"arn": text}), max_size=3),
)
def test_assume_role_parameters_round_trip(session_name: str, tags: list, transitive: list, arns: list) -> None:
    params = {"RoleArn": "arn:aws:iam::123456789012:role/r", "RoleSessionName": session_name}
    if tags:
        params["Tags"] = tags
    if transitive:
        params["TransitiveTagKeys"] = transitive
    if arns:
        params["PolicyArns"] = arns
    decoded = decode_params(parse_pairs(serialize(STS_MODEL, "AssumeRole", params)))
    assert decoded.pop("Action") == "AssumeRole"
    assert decoded.pop("Version") == "2011-06-15"
    assert decoded == params


@settings(max_examples=100, deadline=None)
@given(
    entries=st.lists(
        st.fixed_dictionaries(
            {"ContextKeyName": text, "ContextKeyValues": st.lists(text, min_size=1, max_size=3), "ContextKeyType": st.just("string")}
        ),
        min_size=1,
        max_size=3,
    )
)
def test_nested_lists_round_trip(entries: list) -> None:
    params = {"PolicyInputList": ["{}"], "ActionNames": ["s3:GetObject"], "ContextEntries": entries}
    decoded = decode_params(parse_pairs(serialize(IAM_MODEL, "SimulateCustomPolicy", params)))
    assert decoded["ContextEntries"] == entries


def test_empty_list_is_sent_as_empty_string() -> None:
    body = serialize(STS_MODEL, "AssumeRole", {"RoleArn": "a" * 20, "RoleSessionName": "s", "Tags": []})
    assert decode_params(parse_pairs(body)).get("Tags", "") == ""


def test_sigv4_parameters_are_not_action_parameters() -> None:
    decoded = decode_params(parse_pairs("Action=X&X-Amz-Signature=abc&X-Amz-Credential=c"))
    assert decoded == {"Action": "X"}


def test_maps_decode_to_dicts() -> None:
    decoded = decode_params(parse_pairs("M.entry.2.key=b&M.entry.2.value=2&M.entry.1.key=a&M.entry.1.value=1"))
    assert decoded == {"M": {"a": "1", "b": "2"}}


@pytest.mark.parametrize(
    "text",
    [".".join(["a"] * 5000) + "=1", "a=1&a=2", "a.member.0=x", "a.member.x=1", "a=1&a.b=2", "a.b=2&a=1", "%zz=1", "a=%", ".=1", "a.member.1001=1"],
)
def test_malformed_input_is_malformed_query_string(text: str) -> None:
    with pytest.raises(MalformedQueryString):
        decode_params(parse_pairs(text))


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=200))
def test_arbitrary_input_raises_only_aws_errors(text: str) -> None:
    try:
        decode_params(parse_pairs(text))
    except AwsError:
        pass
