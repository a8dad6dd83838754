#!/usr/bin/env python3
"""Measure one OpenSTS worker's resident memory: after start, and after N signed requests.

Usage: python scripts/worker_rss.py [--requests 10000] [--threads 8]

Starts ``opensts serve`` (one worker, SQLite in a temporary data dir, audit trail on) on a free
port, reads the process's VmRSS from /proc, runs the requests with boto3 (four GetCallerIdentity
calls to one AssumeRole, as a user), reads VmRSS again, and stops the server. Linux only.
docs/DEPLOY.md ("Sizing") quotes its output.
"""
from __future__ import annotations

import argparse
import configparser
import json
import socket
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import boto3
import httpx


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=10_000)
    parser.add_argument("--threads", type=int, default=8)
    args = parser.parse_args()
    data = Path(tempfile.mkdtemp()) / "data"
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    url = f"http://127.0.0.1:{port}"
    server = subprocess.Popen([sys.executable, "-m", "opensts", "serve", "--data-dir", str(data), "--port", str(port)],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        for _ in range(600):
            try:
                if httpx.get(url + "/ready").status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        time.sleep(1)
        print(f"after start: {rss_mib(server.pid):.0f} MiB")
        root = configparser.ConfigParser()
        root.read(data / "root-credentials")

        def client(service: str, key_id: str, secret: str):  # type: ignore[no-untyped-def]
            return boto3.client(service, endpoint_url=url, region_name="us-east-1",
                                aws_access_key_id=key_id, aws_secret_access_key=secret)

        iam = client("iam", root["default"]["aws_access_key_id"], root["default"]["aws_secret_access_key"])
        user = iam.create_user(UserName="rss")["User"]["Arn"]
        key = iam.create_access_key(UserName="rss")["AccessKey"]
        trust = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"AWS": user}, "Action": "sts:AssumeRole"}]}
        role = iam.create_role(RoleName="rss", AssumeRolePolicyDocument=json.dumps(trust))["Role"]["Arn"]
        per_thread = args.requests // args.threads

        def work(index: int) -> None:
            sts = client("sts", key["AccessKeyId"], key["SecretAccessKey"])
            for n in range(per_thread):
                if n % 5 == 0:
                    sts.assume_role(RoleArn=role, RoleSessionName=f"s{index}-{n}")
                else:
                    sts.get_caller_identity()

        with ThreadPoolExecutor(args.threads) as pool:
            list(pool.map(work, range(args.threads)))
        print(f"after {per_thread * args.threads:,} requests: {rss_mib(server.pid):.0f} MiB")
    finally:
        server.terminate()
        server.wait(timeout=30)


if __name__ == "__main__":
    main()
