"""GetWebIdentityToken's throughput beside AssumeRole's, in one run (one server, one worker, SQLite).

    python bench/web_identity_token_bench.py [--duration 10] [--rounds 3] [--connections 32]

Starts ``opensts serve`` (audit trail on, as by default), enables outbound identity federation for
its account, and drives it in turns with ``wrk`` replaying fixed signed requests from one IAM user:

* AssumeRole (user → role, trust policy checked, session token sealed; waits for its audit record);
* GetWebIdentityToken with ``SigningAlgorithm=RS256`` (an RSA-2048 signature per token);
* GetWebIdentityToken with ``SigningAlgorithm=ES384`` (a P-384 ECDSA signature per token).

Prints median requests/s and each one's ratio to AssumeRole. moto has no GetWebIdentityToken: there
is no peer for it.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from urllib.parse import quote

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))
from audit_bench import FORM  # noqa: E402
from authorize_bench import sign  # noqa: E402
from server_bench import free_port, in_turns, show, stop_all, wait_until_up, wrk  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--duration", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--connections", type=int, default=32)
    args = parser.parse_args()
    if not shutil.which("wrk"):
        sys.exit("wrk is needed: apt-get install wrk")

    import boto3
    import httpx

    from opensts.identity.ids import new_long_term_access_key_id

    workdir = Path(tempfile.mkdtemp(prefix="opensts-wit-bench-"))
    account = "123456789012"
    root = (new_long_term_access_key_id(account), "benchmark" + "s" * 31)
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = {**os.environ, "OPENSTS_DATA_DIR": str(workdir / "data"), "OPENSTS_ACCOUNT_ID": account,
           "OPENSTS_ROOT_ACCESS_KEY_ID": root[0], "OPENSTS_ROOT_SECRET_ACCESS_KEY": root[1],
           "OPENSTS_LOG_LEVEL": "warning"}
    env.pop("OPENSTS_DATABASE_URL", None)
    process = subprocess.Popen([sys.executable, "-m", "opensts", "serve", "--port", str(port)], env=env,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_until_up(url, process, "/health")
        iam = boto3.client("iam", endpoint_url=url, region_name="us-east-1", aws_access_key_id=root[0],
                           aws_secret_access_key=root[1])
        iam.enable_outbound_web_identity_federation()
        user = iam.create_user(UserName="bench-user")["User"]
        iam.put_user_policy(UserName="bench-user", PolicyName="p", PolicyDocument=json.dumps({
            "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sts:GetWebIdentityToken", "Resource": "*"}]}))
        key = iam.create_access_key(UserName="bench-user")["AccessKey"]
        creds = (key["AccessKeyId"], key["SecretAccessKey"])
        trust = json.dumps({"Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Principal": {"AWS": user["Arn"]}, "Action": "sts:AssumeRole"}]})
        role = iam.create_role(RoleName="bench-role", AssumeRolePolicyDocument=trust)["Role"]
        bodies = {
            "AssumeRole": f"Action=AssumeRole&RoleArn={quote(role['Arn'], safe='')}&RoleSessionName=bench&Version=2011-06-15",
            "GetWebIdentityToken RS256": "Action=GetWebIdentityToken&Audience.member.1=https%3A%2F%2Fvault.example.com"
                                         "&SigningAlgorithm=RS256&Version=2011-06-15",
            "GetWebIdentityToken ES384": "Action=GetWebIdentityToken&Audience.member.1=https%3A%2F%2Fvault.example.com"
                                         "&SigningAlgorithm=ES384&Version=2011-06-15",
        }
        expect = {"AssumeRole": "SessionToken", "GetWebIdentityToken RS256": "WebIdentityToken",
                  "GetWebIdentityToken ES384": "WebIdentityToken"}

        def run(name: str) -> float:
            body = bodies[name].encode()
            headers = sign(url + "/", body, creds, "sts", FORM)  # afresh: a signature lasts 5 minutes
            check = httpx.post(url + "/", content=body, headers=headers)
            if check.status_code != 200 or expect[name] not in check.text:
                raise RuntimeError(f"{name}: {check.status_code} {check.text[:300]}")
            wrk(url + "/", body, headers, 2, args.connections, workdir)  # warm-up
            return wrk(url + "/", body, headers, args.duration, args.connections, workdir)

        results = in_turns({name: (lambda name=name: run(name)) for name in bodies}, args.rounds)
        print(f"GetWebIdentityToken beside AssumeRole, {args.rounds} rounds of {args.duration}s, "
              f"{args.connections} connections, one worker, SQLite, audit on, wrk 1 thread, {os.cpu_count()} cores")
        medians = {name: show(name, figures) for name, figures in results.items()}
        for name in bodies:
            if name != "AssumeRole":
                print(f"  {name + ' / AssumeRole':<34} {medians[name] / medians['AssumeRole']:>10.2f}")
    finally:
        stop_all([process], workdir)


if __name__ == "__main__":
    main()
