"""House rules that review would otherwise have to remember (see docs/architecture.md)."""

from __future__ import annotations

import re
from pathlib import Path

SOURCE = Path(__file__).resolve().parent.parent / "src" / "tenantry"
MAX_LINES = 400
# Edges hand work to services; a transaction opened here would split a use case in two.
EDGES = ("http", "admin", "cli")
EDGE_SERVICES = {
    "admin/overview.py",  # the admin pages' own read-model service
    "cli/sql.py",  # the operator's own statements, in the context they chose
}


def _modules() -> list[tuple[Path, str]]:
    return [(p.relative_to(SOURCE), p.read_text()) for p in sorted(SOURCE.rglob("*.py"))]


def test_no_module_is_over_the_limit() -> None:
    long = [f"{path}: {text.count(chr(10))}" for path, text in _modules()]
    long = [entry for entry in long if int(entry.rsplit(": ", 1)[1]) > MAX_LINES]
    assert long == [], f"modules over {MAX_LINES} lines: {long}"


def suppressions_without_reason(text: str) -> list[int]:
    """Lines whose `noqa` or `type: ignore` does not say why (`# noqa: X - why`, or
    `# type: ignore[x]  # why`)."""
    missing = []
    for number, line in enumerate(text.splitlines(), 1):
        noqa = re.search(r"#\s*noqa(:\s*[A-Z]+\d+(?:,\s*[A-Z]+\d+)*)?(.*)$", line)
        if noqa and not re.match(r"\s+-\s+\S", noqa.group(2)):
            missing.append(number)
        ignore = re.search(r"#\s*type:\s*ignore(\[[\w, -]+\])?(.*)$", line)
        if ignore and not re.match(r"\s+#\s*\S", ignore.group(2)):
            missing.append(number)
    return missing


def test_every_suppression_says_why() -> None:
    missing = [
        f"{path}:{line}" for path, text in _modules() for line in suppressions_without_reason(text)
    ]
    assert missing == [], "noqa / type: ignore without a reason: " + ", ".join(missing)


def test_edges_open_no_transaction() -> None:
    opened = [
        f"{path}:{number}"
        for path, text in _modules()
        if path.parts[0] in EDGES and path.as_posix() not in EDGE_SERVICES
        for number, line in enumerate(text.splitlines(), 1)
        if re.search(r"\.(platform|tenant)_transaction\(", line)
    ]
    assert opened == [], "transactions opened at the edge: " + ", ".join(opened)


def test_the_rules_catch_what_they_must() -> None:
    source = """
a = 1  # noqa: E501
b = 2  # noqa: E501, ANN401 - a URL
c = f()  # type: ignore[arg-type]
d = f()  # type: ignore[arg-type]  # the stub is wrong
"""
    assert suppressions_without_reason(source) == [2, 4]
