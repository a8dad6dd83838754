"""The audit trail: a CloudTrail-format record of every call, kept in the store as a hash chain per
account, read with CloudTrail's LookupEvents, streamed to files, verified by ``opensts audit verify``.

- ``record.py``: the CloudTrail record of a call the edge saw (pure);
- ``trail.py``: the writer thread and its group commit;
- ``streams.py``: JSON lines and CloudTrail delivery files, fed as events commit;
- ``lookup.py``: the LookupEvents action (JSON 1.1 protocol at the edge: ``server/cloudtrail_api.py``);
- ``verify.py``: checkpoints signed with a key derived from the master key, and chain verification;
- ``retention.py``: removing events older than the retention window.

See docs/AUDIT.md.
"""
