"""The web console's logic: signing in and console sessions. Its pages are in ``server/console/``.

The console is a client, not a backdoor: a console session holds temporary credentials, and every
page is made of signed STS, IAM and CloudTrail calls with them, through the same edge, policy engine
and audit trail as any SDK's (``server/console/api_calls.py``). What this package decides is only
*which* credentials a browser's session gets:

- ``signin.py``: an IAM user's password (+ an MFA code when the user has a device), or the root's
  access key and secret, checked here; the session gets new temporary credentials of that principal
  (session kinds ``console-user`` / ``console-root``) that never leave the server;
- ``federation.py``: the AWS federation endpoint's ``getSigninToken`` (temporary credentials from
  AssumeRole*, or GetFederationToken, become a single-use sign-in token valid 15 minutes) and
  ``login`` (the token becomes a console session for exactly those credentials);
- ``sessions.py``: opening, finding and closing console sessions (server-side, in the store), and
  the CSRF token of each.

A console session ends when its credentials expire, or at sign-out (its row is deleted on every node).
"""
