"""IAM as code: declare accounts, users, groups, roles, policies, instance profiles and identity
providers in a YAML or JSON file; ``opensts plan`` shows the changes, ``opensts apply`` makes them
through the same authorized, audited IAM actions any client calls, ``opensts export`` writes the
current state in the same format (docs/IAM-AS-CODE.md).

format.py (reading, the JSON Schema, semantic checks, the model) → state.py (current state through
read actions) → plan.py (the changes, each the calls that make it) → apply.py (making them);
calls.py calls actions in-process as a principal and records each call in the audit trail;
export.py writes the model back out.
"""
