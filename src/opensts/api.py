"""The STS (2011-06-15) and IAM (2010-05-08) Query APIs: every action OpenSTS answers.

Importing the action packages runs their ``@action`` registrations (``opensts.actions``); the edge
(``server/query_api.py``) and the tests call :func:`load_actions` for the registry. This module sits
above ``sts`` and ``iam`` so that the registry itself (``actions.py``) imports neither.
"""

from __future__ import annotations

from opensts.actions import REGISTRY, ActionSpec


def load_actions() -> dict[tuple[str, str], ActionSpec]:
    """Every registered action by (service, Action)."""
    import opensts.iam  # noqa: F401
    import opensts.sts  # noqa: F401

    return REGISTRY
