#!/usr/bin/env python
"""Build ``src/opensts/data/aws_managed_policies.json.gz``: the AWS managed policies OpenSTS ships.

Where the data comes from
    moto (https://github.com/getmoto/moto, Apache-2.0) carries every AWS managed policy in
    ``moto/iam/aws_managed_policies.py`` (``aws_managed_policies_data``, JSON: policy name ->
    Path, DefaultVersionId, Document, CreateDate, UpdateDate, ...). moto's maintainers produce it
    with their ``scripts/update_managed_policies.py``, which calls AWS IAM's ``ListPolicies``
    (``Scope=AWS``) and, for each policy, ``GetPolicyVersion`` of its default version. Only the
    default version's document is in it, so only that version is shipped.

    This script reads that module from an installed moto (``pip install moto==X``; it is a
    development tool here, never a runtime dependency of OpenSTS) or from a moto wheel
    (``pip download moto==X --no-deps`` then ``--wheel moto-X-py3-none-any.whl``). It never
    imports moto: it reads the module's text and evaluates the one string literal.

What it writes
    Compact, deterministic gzip'd JSON (sorted policies, sorted keys, gzip mtime 0, so the same
    moto version always gives the same bytes)::

        {"header": {"format": 1, "source": {...moto version, licence, origin...},
                    "snapshot_date": "YYYY-MM-DD", "policy_count": N},
         "policies": [{"name", "path", "arn", "default_version_id", "create_date",
                       "update_date", "document"}, ...]}

    ``document`` is the policy's JSON text (compact), exactly what the policy engine parses.
    ``snapshot_date``: moto records no date of its import, so this is the date of the newest
    ``UpdateDate`` in the data: the snapshot is at least that recent (``--snapshot-date`` overrides).

Checks (the build fails on any): every document parses with OpenSTS's policy engine as an identity
policy that says ``"Version": "2012-10-17"``; names are unique; paths and version ids have AWS's form.

Usage::

    PYTHONPATH=src python scripts/build_aws_managed_policies.py            # installed moto
    PYTHONPATH=src python scripts/build_aws_managed_policies.py --wheel moto-5.2.1-py3-none-any.whl
"""

from __future__ import annotations

import argparse
import ast
import email.parser
import gzip
import importlib.metadata
import importlib.util
import io
import json
import re
import sys
import zipfile
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "src"))

from opensts.policy import PolicyValidationError, parse_policy  # noqa: E402

MODULE = "moto/iam/aws_managed_policies.py"
OUTPUT = REPO / "src" / "opensts" / "data" / "aws_managed_policies.json.gz"
FORMAT = 1
PATH_RE = re.compile(r"^/([A-Za-z0-9.,+@=_-]+/)*$")  # policyPathType
NAME_RE = re.compile(r"^[\w+=,.@-]{1,128}$")  # policyNameType
VERSION_RE = re.compile(r"^v[1-9][0-9]*$")
MAX_POLICIES = 10_000  # far above AWS's ~1,500: a bound on what we accept, not a quota


def read_installed() -> tuple[str, dict[str, str]]:
    """The module's text and moto's metadata from the installed distribution (moto is not imported)."""
    spec = importlib.util.find_spec("moto")
    if spec is None or not spec.submodule_search_locations:
        sys.exit("moto is not installed: pip install moto==X (or pass --wheel)")
    package_dir = Path(next(iter(spec.submodule_search_locations)))
    text = (package_dir / "iam" / "aws_managed_policies.py").read_text(encoding="utf-8")
    meta = importlib.metadata.metadata("moto")
    return text, {"version": meta["Version"], "license": meta.get("License-Expression") or meta.get("License") or ""}


def read_wheel(path: Path) -> tuple[str, dict[str, str]]:
    """The module's text and moto's metadata from a wheel file."""
    with zipfile.ZipFile(path) as wheel:
        text = wheel.read(MODULE).decode("utf-8")
        metadata_name = next(n for n in wheel.namelist() if n.endswith(".dist-info/METADATA"))
        meta = email.parser.Parser().parsestr(wheel.read(metadata_name).decode("utf-8"), headersonly=True)
    if meta["Name"].lower() != "moto":
        sys.exit(f"{path} is not a moto wheel")
    return text, {"version": meta["Version"], "license": meta.get("License-Expression") or meta.get("License") or ""}


def policies_from_module(text: str) -> dict[str, Any]:
    """Evaluate ``aws_managed_policies_data = \"\"\"...\"\"\"`` (a string literal) without running the module."""
    for node in ast.parse(text).body:
        if (
            isinstance(node, ast.Assign)
            and any(isinstance(t, ast.Name) and t.id == "aws_managed_policies_data" for t in node.targets)
            and isinstance(node.value, ast.Constant)
            and isinstance(node.value.value, str)
        ):
            data = json.loads(node.value.value)
            if not isinstance(data, dict):
                sys.exit("aws_managed_policies_data is not a JSON object")
            return data
    sys.exit(f"no aws_managed_policies_data string in {MODULE}")


def build(data: dict[str, Any]) -> list[dict[str, str]]:
    if len(data) > MAX_POLICIES:
        sys.exit(f"{len(data)} policies: more than the {MAX_POLICIES} this script accepts")
    out: list[dict[str, str]] = []
    errors: list[str] = []
    seen: set[str] = set()
    for name in sorted(data):
        entry = data[name]
        path = entry["Path"]
        version = entry["DefaultVersionId"]
        if not NAME_RE.match(name) or name.lower() in seen:
            errors.append(f"{name}: bad or duplicate name")
        seen.add(name.lower())
        if not PATH_RE.match(path) or not VERSION_RE.match(version):
            errors.append(f"{name}: bad path {path!r} or version {version!r}")
        arn = f"arn:aws:iam::aws:policy{path}{name}"
        if entry.get("Arn", arn) != arn:
            errors.append(f"{name}: ARN {entry['Arn']} does not match its path")
        document = entry["Document"]
        text = document if isinstance(document, str) else json.dumps(document, separators=(",", ":"), sort_keys=True)
        try:
            parse_policy(text, "identity", name=arn, require_current_version=True)
        except PolicyValidationError as exc:
            errors.append(f"{name}: {exc}")
        out.append(
            {
                "name": name,
                "path": path,
                "arn": arn,
                "default_version_id": version,
                "create_date": entry["CreateDate"],
                "update_date": entry["UpdateDate"],
                "document": text,
            }
        )
    if errors:
        sys.exit("refusing to build; the policy engine or the checks refused:\n  " + "\n  ".join(errors))
    return out


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--wheel", type=Path, help="a moto wheel (pip download moto==X --no-deps) instead of the installed moto")
    parser.add_argument("--snapshot-date", help="YYYY-MM-DD (default: the newest UpdateDate in the data)")
    parser.add_argument("--output", type=Path, default=OUTPUT)
    args = parser.parse_args(argv)
    text, meta = read_wheel(args.wheel) if args.wheel else read_installed()
    policies = build(policies_from_module(text))
    snapshot = args.snapshot_date or max(p["update_date"] for p in policies)[:10]
    if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", snapshot):
        sys.exit(f"bad snapshot date {snapshot!r}")
    header = {
        "format": FORMAT,
        "source": {
            "name": "moto",
            "version": meta["version"],
            "license": meta["license"],
            "url": "https://github.com/getmoto/moto",
            "module": MODULE,
            "origin": (
                "AWS IAM ListPolicies (Scope=AWS) and GetPolicyVersion (the default version of each policy), "
                "called by moto's maintainers with moto's scripts/update_managed_policies.py"
            ),
        },
        "snapshot_date": snapshot,
        "snapshot_date_meaning": "the newest UpdateDate in the data: the snapshot is at least this recent",
        "policy_count": len(policies),
    }
    payload = json.dumps({"header": header, "policies": policies}, separators=(",", ":"), sort_keys=True).encode()
    buffer = io.BytesIO()
    with gzip.GzipFile(filename="", mode="wb", fileobj=buffer, compresslevel=9, mtime=0) as gz:
        gz.write(payload)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_bytes(buffer.getvalue())
    print(
        f"{args.output}: {len(policies)} policies from moto {meta['version']} ({meta['license']}), "
        f"snapshot {snapshot}, {len(payload):,} bytes of JSON, {len(buffer.getvalue()):,} gzip'd"
    )


if __name__ == "__main__":
    main()
