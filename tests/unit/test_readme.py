"""The README and the walkthroughs stay true to what a new user runs (issue 12, item 19).

The README's first two commands are the install-and-start and the install-and-test commands, each
in its own virtual environment; CI runs the second verbatim; every walkthrough that runs the AWS
CLI sets a region (SigV4 needs one, and a new machine has none configured).
"""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
FENCE = re.compile(r"```sh\n(.*?)```", re.S)


def blocks(path: Path) -> list[str]:
    return FENCE.findall(path.read_text())


def test_the_first_two_commands_install_into_their_own_environments() -> None:
    serve, test = blocks(ROOT / "README.md")[:2]
    assert re.search(r"python3 -m venv (\S+) && \. \1/bin/activate && pip install \. && opensts serve", serve)
    venv = re.search(r"python3 -m venv (\S+) && \. \1/bin/activate && pip install -e '\.\[test\]' && python -m pytest", test)
    assert venv and venv.group(1) not in serve.split()


def test_ci_runs_the_readme_test_command() -> None:
    test = blocks(ROOT / "README.md")[1].strip()
    assert test in (ROOT / ".ci" / "run").read_text()


def test_the_quick_start_explains_the_sample_key() -> None:
    text = (ROOT / "README.md").read_text()
    quick = text[text.index("## Quick start"):text.index("## Running it")]
    assert "root-credentials" in quick and "AWS_DEFAULT_REGION" in quick


def test_every_walkthrough_with_the_aws_cli_sets_a_region() -> None:
    walkthroughs = [ROOT / "README.md", *sorted((ROOT / "examples").glob("*/README.md")), *sorted((ROOT / "docs").glob("*.md"))]
    for path in walkthroughs:
        shell = "\n".join(blocks(path))
        if re.search(r"^\s*aws (sts|iam) ", shell, re.M):
            assert re.search(r"AWS_(DEFAULT_)?REGION=|--region |region us-", path.read_text()), path.name
