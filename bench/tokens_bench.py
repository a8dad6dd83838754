"""Micro-benchmark of the token layer: microseconds per encode/decode.

    python bench/tokens_bench.py [--n 20000]

Decoding a session token happens on every request made with temporary credentials (target: well
under 50 us). Figures are per call on one core, best of 5 runs.
"""

from __future__ import annotations

import argparse
import json
import time

from opensts.tokens import (
    KeyRing,
    MasterKey,
    SessionClaims,
    decode_authorization_message,
    decode_session_token,
    encode_authorization_message,
    encode_session_token,
    packed_policy_size_percent,
)

ACCT = "609629065308"
POLICY = json.dumps({"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Action": ["s3:GetObject", "s3:PutObject", "s3:ListBucket"],
     "Resource": [f"arn:aws:s3:::bucket-{i}/*" for i in range(8)],
     "Condition": {"StringEquals": {"aws:PrincipalTag/team": "infra"}}}]})


def claims(big: bool) -> SessionClaims:
    return SessionClaims(
        access_key_id="ASIAY34FZKBOKMUTVV7A", secret_access_key="wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
        account_id=ACCT, kind="assumed-role",
        principal_arn=f"arn:aws:sts::{ACCT}:assumed-role/deploy/ci-run-42",
        principal_id="AROAY34FZKBOKMUTVV7AB:ci-run-42", source_arn=f"arn:aws:iam::{ACCT}:role/deploy",
        source_id="AROAY34FZKBOKMUTVV7AB", issued_at=1_795_000_000, expires_at=1_795_003_600,
        mfa_authenticated_at=1_794_999_000 if big else None,
        tags=tuple((f"tag-key-{i}", f"tag value {i}") for i in range(20)) if big else (),
        transitive_tag_keys=("tag-key-1",) if big else (),
        session_policy=POLICY if big else None,
        policy_arns=(f"arn:aws:iam::{ACCT}:policy/p1", "arn:aws:iam::aws:policy/ReadOnlyAccess") if big else (),
    )


def per_call_us(fn, n: int) -> float:
    best = float("inf")
    for _ in range(5):
        t = time.perf_counter()
        for _ in range(n):
            fn()
        best = min(best, (time.perf_counter() - t) / n)
    return best * 1e6


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=20000, help="calls per run")
    n = ap.parse_args().n
    ring = KeyRing.generate()
    rows = []
    for label, c in (("minimal", claims(False)), ("20 tags + policy + 2 ARNs", claims(True))):
        token = encode_session_token(c, ring)
        rows.append((f"session token encode ({label})", per_call_us(lambda: encode_session_token(c, ring), n),
                     len(token)))
        rows.append((f"session token decode ({label})", per_call_us(lambda: decode_session_token(token, ring), n),
                     len(token)))
    doc = {"allowed": False, "explicitDeny": False, "matchedStatements": {"items": []}, "failures": {"items": []},
           "context": {"principal": {"id": "AROAY34FZKBOKMUTVV7AB:s", "arn": f"arn:aws:sts::{ACCT}:assumed-role/r/s"},
                       "action": "ec2:StopInstances", "resource": f"arn:aws:ec2:us-east-1:{ACCT}:instance/i-1",
                       "conditions": {"items": [{"key": f"aws:Key{i}", "values": {"items": [{"value": "v"}]}}
                                                for i in range(15)]}}}
    msg = encode_authorization_message(doc, ring)
    rows.append(("authorization message encode", per_call_us(lambda: encode_authorization_message(doc, ring), n // 4),
                 len(msg)))
    rows.append(("authorization message decode", per_call_us(lambda: decode_authorization_message(msg, ring), n // 4),
                 len(msg)))
    rows.append(("packed_policy_size_percent", per_call_us(
        lambda: packed_policy_size_percent(POLICY, ("arn:aws:iam::aws:policy/ReadOnlyAccess",), (("a", "b"),)),
        n // 4), 0))
    mk = MasterKey.generate()
    sealed = mk.seal(b"wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", "access-key-secret")
    rows.append(("master key seal (40-byte secret)", per_call_us(
        lambda: mk.seal(b"wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", "access-key-secret"), n), len(sealed)))
    rows.append(("master key open", per_call_us(lambda: mk.open(sealed, "access-key-secret"), n), len(sealed)))
    width = max(len(r[0]) for r in rows)
    print(f"{'operation':<{width}}  {'us/call':>8}  {'size':>6}")
    for name, us, size in rows:
        print(f"{name:<{width}}  {us:8.1f}  {size if size else '':>6}")


if __name__ == "__main__":
    main()
