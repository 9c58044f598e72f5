"""SQL lives in repositories: a statement written anywhere else fails this test.

A repository is a module named `repository.py` or any module of a `repository/` package. The
exceptions are the parts whose job is SQL about the database itself rather than about data:
the isolation engine (policy generator, verifier, auditor), the migrations, the database
access layer and the operator's catalog checks.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

SOURCE = Path(__file__).resolve().parent.parent / "src" / "tenantry"

# Relative to src/tenantry.
EXCEPTED = {
    "isolation": "the policy generator, the verifier and the catalog auditor",
    "migrations": "schema changes",
    "workloads/migrations": "the workloads module's schema changes",
    "kit/db.py": "the signed context and the one-message read around every query",
    "kit/transaction.py": "the signed context set with a transaction's first statement",
    "kit/placements.py": "where tenants live, read from the home database's registry",
    "kit/silos.py": "clearing a new placement's seeded catalogs with the admin connection",
    "kit/tenant_limits.py": "the signed context set with a plan's statement timeout (kit/db.py's)",
    "kit/migrate.py": "roles, context keys and the migration log, before any schema exists",
    "kit/embedded.py": "bootstrapping the embedded server",
    "kit/invalidation.py": "LISTEN/NOTIFY",
    "operations/doctor.py": "catalog and statistics checks of the live database",
    "operations/pentest": "the attack batteries: their statements are the attacks",
}

STATEMENT = re.compile(
    r"^\s*\(?\s*(SELECT|INSERT\s+INTO|UPDATE\s+\S+\s+SET|DELETE\s+FROM|WITH\s+\w+\s+AS|"
    r"CREATE|ALTER|DROP|GRANT|REVOKE|TRUNCATE|LOCK\s+TABLE|SET\s+(LOCAL\s+)?ROLE)\b"
)
CONSTANT = re.compile(r"^_?[A-Z][A-Z0-9_]*$")


def _docstrings(tree: ast.AST) -> set[int]:
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
            body = node.body
            if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
                found.add(id(body[0].value))
    return found


def sql_findings(source: str) -> tuple[list[int], list[int]]:
    """Lines with SQL text, and lines with f-string SQL that interpolates anything but a module
    constant (a column list): dynamic SQL must be composed with `psycopg.sql`."""
    tree = ast.parse(source)
    skipped = _docstrings(tree)
    # The literal parts of an f-string are judged with the f-string.
    skipped |= {
        id(part)
        for node in ast.walk(tree)
        if isinstance(node, ast.JoinedStr)
        for part in node.values
    }
    statements, dynamic = [], []
    for node in ast.walk(tree):
        if isinstance(node, ast.JoinedStr):
            text = "".join(v.value for v in node.values if isinstance(v, ast.Constant))
            if STATEMENT.match(text):
                statements.append(node.lineno)
                if any(
                    not (isinstance(v.value, ast.Name) and CONSTANT.match(v.value.id))
                    for v in node.values
                    if isinstance(v, ast.FormattedValue)
                ):
                    dynamic.append(node.lineno)
        elif (
            isinstance(node, ast.Constant)
            and isinstance(node.value, str)
            and id(node) not in skipped
            and STATEMENT.match(node.value)
        ):
            statements.append(node.lineno)
    return statements, dynamic


def _is_repository(relative: Path) -> bool:
    return relative.name == "repository.py" or "repository" in relative.parts[:-1]


def _excepted(relative: Path) -> bool:
    text = relative.as_posix()
    return any(text == e or text.startswith(e + "/") for e in EXCEPTED)


def test_sql_text_appears_only_in_repositories() -> None:
    misplaced = []
    for path in sorted(SOURCE.rglob("*.py")):
        relative = path.relative_to(SOURCE)
        if _is_repository(relative) or _excepted(relative):
            continue
        statements, _ = sql_findings(path.read_text())
        misplaced += [f"{relative}:{line}" for line in statements]
    assert misplaced == [], "SQL outside a repository: " + ", ".join(misplaced)


def test_no_dynamic_f_string_sql_anywhere() -> None:
    dynamic = []
    for path in sorted(SOURCE.rglob("*.py")):
        relative = path.relative_to(SOURCE)
        if _excepted(relative):
            continue
        _, found = sql_findings(path.read_text())
        dynamic += [f"{relative}:{line}" for line in found]
    assert dynamic == [], "f-string SQL with a dynamic part: " + ", ".join(dynamic)


def test_the_detector_sees_what_it_must() -> None:
    source = '''
"""SELECT in a docstring is prose."""
QUERY = "SELECT id FROM tenantry.apps"
def f(table, n):
    """DELETE FROM in a docstring too."""
    a = f"DELETE FROM {table} WHERE id = %s"
    b = f"""SELECT {_COLUMNS} FROM tenantry.app_users"""
    c = "UPDATE tenantry.tenants SET status = %s"
    d = "Select a tenant"  # prose, not a statement
'''
    statements, dynamic = sql_findings(source)
    assert statements == [3, 6, 7, 8]
    assert dynamic == [6]
    assert _is_repository(Path("identity/repository/users.py"))
    assert _is_repository(Path("apps/repository.py"))
    assert not _is_repository(Path("identity/service.py"))
    assert _excepted(Path("isolation/ddl.py"))
    assert not _excepted(Path("kit/errors.py"))
