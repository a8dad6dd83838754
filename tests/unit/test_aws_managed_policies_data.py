"""The shipped AWS managed policies (src/opensts/data/aws_managed_policies.json.gz): the header
says where they came from, every document parses with the policy engine, and the records agree
with their ARNs."""

from __future__ import annotations

import gzip
import json
import re
from importlib import resources

from opensts.policy import parse_policy
from opensts.store import aws_policies


def test_header_names_source_licence_and_snapshot() -> None:
    raw = resources.files("opensts.data").joinpath("aws_managed_policies.json.gz").read_bytes()
    assert raw[4:8] == b"\0\0\0\0"  # gzip mtime 0: the same input always gives the same bytes
    header = json.loads(gzip.decompress(raw))["header"]
    source = header["source"]
    assert source["name"] == "moto" and re.fullmatch(r"\d+\.\d+\.\d+", source["version"])
    assert source["license"] == "Apache-2.0"
    assert "ListPolicies" in source["origin"] and "GetPolicyVersion" in source["origin"]
    assert re.fullmatch(r"\d{4}-\d{2}-\d{2}", header["snapshot_date"])
    assert header["policy_count"] == len(aws_policies.catalogue().policies) > 1000


def test_every_document_parses_and_matches_its_arn() -> None:
    catalogue = aws_policies.catalogue()
    assert catalogue is aws_policies.catalogue()  # loaded once per process
    for policy in catalogue.policies:
        assert policy.arn == f"{aws_policies.AWS_POLICY_ARN_PREFIX}{policy.path[1:]}{policy.name}"
        assert re.fullmatch(r"v[1-9][0-9]*", policy.default_version_id)
        assert policy.created_at <= policy.updated_at
        assert re.fullmatch(r"ANPA[A-Z2-7]{17}", policy.policy_id)
        parse_policy(policy.document, "identity", name=policy.arn, require_current_version=True)
    assert {"ReadOnlyAccess", "PowerUserAccess", "AdministratorAccess"} <= {p.name for p in catalogue.policies}
    assert len({p.policy_id for p in catalogue.policies}) == len(catalogue.policies)


def test_only_aws_arns_reach_the_catalogue() -> None:
    assert aws_policies.find("arn:aws:iam::123456789012:policy/ReadOnlyAccess") is None
    assert aws_policies.find("arn:aws:iam::aws:policy/NoSuch") is None
    found = aws_policies.find("arn:aws:iam::aws:policy/ReadOnlyAccess")
    assert found is not None and found.name == "ReadOnlyAccess"
