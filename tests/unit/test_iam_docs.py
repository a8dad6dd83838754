"""docs/IAM.md lists every operation of botocore's current IAM model, each either in the table of
implemented actions or in the table of those not supported (with the reason), and the number of
implemented actions it states is the registry's."""

from __future__ import annotations

import re
from pathlib import Path

import botocore.session

from opensts.api import load_actions

IAM_MD = Path(__file__).resolve().parents[2] / "docs" / "IAM.md"


def _table_names(text: str, heading: str) -> set[str]:
    """The action names (CamelCase words) in the first column(s) of the table under ``heading``."""
    section = text.split(heading, 1)[1].split("\n## ", 1)[0]
    names: set[str] = set()
    for line in section.splitlines():
        if line.startswith("|") and not line.startswith("|---"):
            cells = line.strip("|").split("|")
            actions_cell = cells[1] if heading.startswith("## Implemented") else cells[0]
            names.update(re.findall(r"\b[A-Z][A-Za-z0-9]+\b", actions_cell))
    return names


def test_every_operation_of_the_model_is_listed_as_supported_or_not_with_a_reason() -> None:
    model = botocore.session.get_session().get_service_model("iam")
    operations = set(model.operation_names)
    registered = {name for service, name in load_actions() if service == "iam"}
    text = IAM_MD.read_text()
    supported = _table_names(text, "## Implemented actions") & operations
    unsupported = _table_names(text, "## Not supported") & operations
    assert supported == registered & operations
    assert unsupported == operations - registered
    assert f"{len(registered)} actions are implemented" in text
