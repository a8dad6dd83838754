#!/usr/bin/env python3
"""Policy-engine throughput: decisions per second on one core.

    python bench/policy_bench.py [--seconds 3] [--requests 2000]

Set: 10 identity policies x 20 statements (about 20% Deny) over 10 services, with wildcard actions
and resources, and conditions on about half the statements (StringEquals, StringLike with a policy
variable, IpAddress, Bool, NumericLessThan, DateGreaterThan, ForAnyValue). Requests: a pool of
varied pre-built requests (actions across the same services plus unrelated ones, matching and
non-matching resources, realistic context). Requests are built outside the timed loop, as the
STS/IAM layer builds one per HTTP request anyway; the figure is evaluate() only. The identity policies
are passed as a PolicySet (built once per principal, as the IAM layer caches it); the second line
passes the same policies as a plain list; the third adds a permissions boundary, a session policy
and a resource policy to each decision.
"""
from __future__ import annotations

import argparse
import random
import time
from typing import Any

from opensts.policy import PolicySet, Principal, PrincipalType, Request, evaluate, parse_policy

ACCOUNT = "123456789012"
SERVICES = {
    "s3": (["GetObject", "PutObject", "ListBucket", "DeleteObject", "GetBucketPolicy"], "arn:aws:s3:::{b}/{k}"),
    "ec2": (["DescribeInstances", "StartInstances", "StopInstances", "RunInstances", "TerminateInstances"], "arn:aws:ec2:us-east-1:{a}:instance/i-{k}"),
    "dynamodb": (["GetItem", "PutItem", "Query", "Scan", "DeleteItem"], "arn:aws:dynamodb:us-east-1:{a}:table/{b}"),
    "sqs": (["SendMessage", "ReceiveMessage", "DeleteMessage", "GetQueueUrl"], "arn:aws:sqs:us-east-1:{a}:{b}"),
    "lambda": (["InvokeFunction", "GetFunction", "UpdateFunctionCode"], "arn:aws:lambda:us-east-1:{a}:function:{b}"),
    "kms": (["Decrypt", "Encrypt", "GenerateDataKey", "DescribeKey"], "arn:aws:kms:us-east-1:{a}:key/{k}"),
    "logs": (["PutLogEvents", "CreateLogStream", "GetLogEvents"], "arn:aws:logs:us-east-1:{a}:log-group:{b}:*"),
    "sns": (["Publish", "Subscribe", "GetTopicAttributes"], "arn:aws:sns:us-east-1:{a}:{b}"),
    "cloudwatch": (["PutMetricData", "GetMetricData"], "*"),
    "iam": (["GetUser", "ListRoles", "PassRole", "CreateUser"], "arn:aws:iam::{a}:role/{b}"),
}
NAMES = ["alpha", "beta", "gamma", "delta", "prod-data", "dev-data", "logs", "shared"]


def _resource_pattern(rng: random.Random, svc: str) -> str:
    tmpl = SERVICES[svc][1]
    if tmpl == "*":
        return "*"
    choice = rng.random()
    if choice < 0.2:
        return "*"
    b = rng.choice(NAMES) + ("*" if rng.random() < 0.5 else "")
    k = rng.choice(["*", "public/*", "${aws:username}/*", "0a1b*", "reports/2024-??/*"])
    return tmpl.format(a=ACCOUNT, b=b, k=k)


def _condition(rng: random.Random) -> dict[str, Any] | None:
    r = rng.random()
    if r < 0.5:
        return None
    options = [
        {"StringEquals": {"aws:RequestedRegion": ["us-east-1", "eu-west-1"]}},
        {"IpAddress": {"aws:SourceIp": ["10.0.0.0/8", "192.168.0.0/16"]}},
        {"Bool": {"aws:SecureTransport": "true"}},
        {"NumericLessThan": {"aws:MultiFactorAuthAge": "3600"}},
        {"DateGreaterThan": {"aws:CurrentTime": "2020-01-01T00:00:00Z"}},
        {"StringLike": {"aws:PrincipalTag/team": ["data-*", "${aws:username}"]}},
        {"ForAnyValue:StringEquals": {"aws:TagKeys": ["owner", "cost-center"]}},
        {"StringNotEqualsIfExists": {"aws:SourceVpce": "vpce-1234"}},
    ]
    cond: dict[str, Any] = {}
    for c in rng.sample(options, rng.choice([1, 1, 2])):
        cond.update(c)
    return cond


def build_policies(rng: random.Random, count: int = 10, statements: int = 20) -> list[dict[str, Any]]:
    docs = []
    services = list(SERVICES)
    for p in range(count):
        stmts = []
        for i in range(statements):
            svc = rng.choice(services)
            actions = SERVICES[svc][0]
            acts: list[str] = []
            for _ in range(rng.choice([1, 2, 3])):
                a = rng.choice(actions)
                roll = rng.random()
                acts.append(f"{svc}:*" if roll < 0.1 else f"{svc}:{a[:3]}*" if roll < 0.35 else f"{svc}:{a}")
            st: dict[str, Any] = {
                "Sid": f"P{p}S{i}",
                "Effect": "Deny" if rng.random() < 0.2 else "Allow",
                "Action": sorted(set(acts)),
                "Resource": sorted({_resource_pattern(rng, svc) for _ in range(rng.choice([1, 2]))}),
            }
            cond = _condition(rng)
            if cond:
                st["Condition"] = cond
            stmts.append(st)
        docs.append({"Version": "2012-10-17", "Statement": stmts})
    return docs


def build_requests(rng: random.Random, n: int) -> list[Request]:
    reqs = []
    users = [f"user{i}" for i in range(20)]
    extra = ["ses:SendEmail", "athena:StartQueryExecution", "glue:GetTable", "ecr:GetAuthorizationToken"]
    for _ in range(n):
        user = rng.choice(users)
        if rng.random() < 0.1:
            action = rng.choice(extra)
            resource = "*"
        else:
            svc = rng.choice(list(SERVICES))
            action = f"{svc}:{rng.choice(SERVICES[svc][0])}"
            tmpl = SERVICES[svc][1]
            resource = "*" if tmpl == "*" else tmpl.format(
                a=ACCOUNT, b=rng.choice(NAMES), k=rng.choice([f"{user}/file.txt", "public/a.png", "0a1b2c", "reports/2024-05/x.csv"])
            )
        context: dict[str, Any] = {
            "aws:RequestedRegion": rng.choice(["us-east-1", "eu-west-1", "ap-south-1"]),
            "aws:SourceIp": rng.choice(["10.1.2.3", "192.168.1.1", "203.0.113.9"]),
            "aws:SecureTransport": rng.random() < 0.9,
            "aws:CurrentTime": "2024-06-01T12:00:00Z",
        }
        if rng.random() < 0.5:
            context["aws:MultiFactorAuthAge"] = rng.choice([60, 7200])
        if rng.random() < 0.3:
            context["aws:TagKeys"] = rng.sample(["owner", "env", "cost-center", "app"], 2)
        principal = Principal(
            arn=f"arn:aws:iam::{ACCOUNT}:user/{user}", type=PrincipalType.USER, id=f"AIDA{user.upper():0>16}",
            tags={"team": rng.choice(["data-eng", "web", user])},
        )
        reqs.append(Request(principal, action, resource, resource_account=ACCOUNT, context=context))
    return reqs


def run(seconds: float, n_requests: int, full: bool, policy_set: bool = True) -> tuple[float, dict[str, int]]:
    rng = random.Random(42)
    identity: Any = [parse_policy(d, "identity", name=f"policy-{i}") for i, d in enumerate(build_policies(rng))]
    if policy_set:
        identity = PolicySet(identity)
    boundary = [parse_policy({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"},
        {"Effect": "Deny", "Action": "iam:*", "Resource": "*", "Condition": {"Bool": {"aws:MultiFactorAuthPresent": "false"}}}]})]
    session = [parse_policy({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "NotAction": ["iam:Create*"], "Resource": "*"}]})]
    resource_policy = parse_policy({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"}, "Action": "s3:*", "Resource": "arn:aws:s3:::shared/*"},
        {"Effect": "Deny", "Principal": "*", "Action": "s3:*", "Resource": "arn:aws:s3:::shared/*", "Condition": {"Bool": {"aws:SecureTransport": "false"}}}]}, "resource")
    requests = build_requests(rng, n_requests)
    outcomes: dict[str, int] = {}
    for r in requests:  # warm-up: fills the per-policy action memos like a running server would
        d = evaluate(r, identity, resource_policy, boundary, session) if full else evaluate(r, identity)
        outcomes[d.outcome.value] = outcomes.get(d.outcome.value, 0) + 1
    done = 0
    start = time.perf_counter()
    deadline = start + seconds
    while True:
        if full:
            for r in requests:
                evaluate(r, identity, resource_policy, boundary, session)
        else:
            for r in requests:
                evaluate(r, identity)
        done += len(requests)
        now = time.perf_counter()
        if now >= deadline:
            break
    return done / (now - start), outcomes


def main() -> None:
    ap = argparse.ArgumentParser(description="policy engine decisions/s on one core")
    ap.add_argument("--seconds", type=float, default=3.0)
    ap.add_argument("--requests", type=int, default=2000)
    args = ap.parse_args()
    for label, full, pset in (
        ("10 policies x 20 statements, PolicySet     ", False, True),
        ("same, policies passed as a plain list      ", False, False),
        ("PolicySet + boundary, session, resource pol", True, True),
    ):
        rate, outcomes = run(args.seconds, args.requests, full=full, policy_set=pset)
        print(f"{label}: {rate:>9,.0f} decisions/s  ({1e6 / rate:.2f} us/decision)  {outcomes}")


if __name__ == "__main__":
    main()
