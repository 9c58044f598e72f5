"""Statements are written in forms Citus runs too (docs/citus.md, "What differs on Citus"):
Citus refuses a function call other than an immutable one where it cannot evaluate it once on
the coordinator, in an upsert's DO UPDATE and in RETURNING, and any volatile clock. The suite
on a cluster (`tests/citus`) finds the rest; this check keeps these forms out without one."""

from __future__ import annotations

import ast
import re

from tests.test_sql_placement import SOURCE, _docstrings

SKIPPED = ("migrations", "workloads/migrations", "isolation", "operations/pentest")
CLOCKS = re.compile(r"\b(now|clock_timestamp|statement_timestamp|random|gen_random_uuid)\(\)")
DO_UPDATE = re.compile(r"DO\s+UPDATE\s+SET(?P<set>.*?)(\bRETURNING\b|\bWHERE\b|$)", re.DOTALL)
RETURNING = re.compile(r"\bRETURNING\b(?P<returned>.*)$", re.DOTALL)


def _texts(tree: ast.AST) -> list[tuple[int, str]]:
    """Every string literal but docstrings (an f-string with `{}` for what it interpolates)."""
    skipped = _docstrings(tree)
    texts = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            if id(node) not in skipped:
                texts.append((node.lineno, node.value))
        elif isinstance(node, ast.JoinedStr):
            literal = "".join(
                part.value if isinstance(part, ast.Constant) else "{}" for part in node.values
            )
            texts.append((node.lineno, literal))
    return texts


def problems(text: str) -> list[str]:
    found = []
    if "clock_timestamp()" in text:
        found.append("clock_timestamp()")
    if any(CLOCKS.search(match["set"]) for match in DO_UPDATE.finditer(text)):
        found.append("a clock in DO UPDATE SET")
    returned = RETURNING.search(text)
    if returned and CLOCKS.search(returned["returned"]):
        found.append("a clock in RETURNING")
    return found


def findings() -> list[str]:
    found = []
    for path in sorted(SOURCE.rglob("*.py")):
        relative = path.relative_to(SOURCE).as_posix()
        if relative.startswith(SKIPPED):
            continue
        for line, text in _texts(ast.parse(path.read_text())):
            found += [f"{relative}:{line} {problem}" for problem in problems(text)]
    return found


def test_statements_use_forms_citus_runs() -> None:
    assert findings() == []


def test_the_check_sees_each_form() -> None:
    assert problems("INSERT INTO t VALUES (1) ON CONFLICT (a) DO UPDATE SET at = now()")
    assert problems("UPDATE t SET a = 1 RETURNING a, b <= now() AS late")
    assert problems("UPDATE t SET at = clock_timestamp()")
    assert not problems("INSERT INTO t VALUES (now()) ON CONFLICT (a) DO UPDATE SET at = 1")
    assert not problems("UPDATE t SET at = now() RETURNING at")
