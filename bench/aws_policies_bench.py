#!/usr/bin/env python3
"""AWS managed policies: what the shipped catalogue costs a process, and whether deciding against a
large one (ReadOnlyAccess: ~85 KB, thousands of action patterns) costs more than a small one.

    python bench/aws_policies_bench.py [--decisions 20000]

Prints: the catalogue's load time and the process's peak memory before and after (it is loaded on
first use, never at start); the parse time of ReadOnlyAccess (paid once per principal cache miss);
then microseconds per decision for ReadOnlyAccess and for a two-statement policy, side by side, on
an allowed and a denied action, with the ratio.
"""
from __future__ import annotations

import argparse
import json
import resource
import time

from opensts.policy import PolicySet, Principal, Request, evaluate, parse_policy
from opensts.store import aws_policies

SMALL = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": ["iam:List*", "s3:GetObject"], "Resource": "*"}]}


def peak_mb() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024


def per_decision_us(policies: PolicySet, principal: Principal, action: str, n: int) -> float:
    evaluate(Request(principal, action, "*"), policies)  # warm the per-action memo
    started = time.perf_counter()
    for _ in range(n):
        evaluate(Request(principal, action, "*"), policies)
    return (time.perf_counter() - started) / n * 1e6


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--decisions", type=int, default=20000)
    args = parser.parse_args()
    before = peak_mb()
    started = time.perf_counter()
    read_only = aws_policies.find("arn:aws:iam::aws:policy/ReadOnlyAccess")
    loaded_ms = (time.perf_counter() - started) * 1000
    assert read_only is not None
    print(f"catalogue: loaded in {loaded_ms:.0f} ms; peak memory {before} MB before, {peak_mb()} MB after")
    started = time.perf_counter()
    large = PolicySet([parse_policy(read_only.document, "identity")])
    print(f"ReadOnlyAccess ({len(read_only.document):,} characters): parsed in {(time.perf_counter() - started) * 1000:.1f} ms")
    small = PolicySet([parse_policy(json.dumps(SMALL), "identity")])
    principal = Principal("arn:aws:iam::123456789012:user/alice")
    for action in ("iam:ListUsers", "iam:CreateUser"):
        big = per_decision_us(large, principal, action, args.decisions)
        little = per_decision_us(small, principal, action, args.decisions)
        print(f"{action:16} ReadOnlyAccess {big:5.1f} µs, small policy {little:5.1f} µs: ratio {big / little:.2f}")


if __name__ == "__main__":
    main()
