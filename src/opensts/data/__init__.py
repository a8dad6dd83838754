"""Data files shipped with OpenSTS (package data; no code): ``aws_managed_policies.json.gz``, the
AWS managed policies (built by ``scripts/build_aws_managed_policies.py``; read by
``opensts.store.aws_policies``)."""
