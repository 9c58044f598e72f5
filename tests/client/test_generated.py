"""The committed client is exactly what the generator writes from the API's OpenAPI document
now, so it cannot drift from the routes; and what it writes passes mypy --strict."""

from __future__ import annotations

import difflib
from typing import TYPE_CHECKING

import pytest
from mypy import api as mypy

from tenantry.cli.client import CLIENT, client_sources
from tenantry.client import codegen
from tests.support.cli import tenantry

if TYPE_CHECKING:
    from pathlib import Path

    from tests.support.database import Urls

REGENERATE = (
    "the typed client is out of date with the API: run `tenantry client generate` and commit "
    "src/tenantry/client/api.py and types.py"
)


def test_the_committed_client_is_generated_from_the_api() -> None:
    stale = {}
    for name, expected in client_sources().items():
        committed = (CLIENT / name).read_text() if (CLIENT / name).is_file() else ""
        if committed != expected:
            diff = difflib.unified_diff(
                committed.splitlines(), expected.splitlines(), f"{name} (committed)", name, n=1
            )
            stale[name] = "\n".join(list(diff)[:30])
    if stale:
        pytest.fail(f"{REGENERATE}\n\n" + "\n\n".join(stale.values()), pytrace=False)


def test_the_command_writes_and_checks(urls: Urls, tmp_path: Path) -> None:
    written = tenantry(urls, "client", "generate", "--out", str(tmp_path))
    assert written.returncode == 0, written.stderr
    for name in ("api.py", "types.py"):
        assert (tmp_path / name).read_text() == (CLIENT / name).read_text(), REGENERATE
    (tmp_path / "api.py").write_text("# edited by hand\n")
    drifted = tenantry(urls, "client", "generate", "--check", "--out", str(tmp_path))
    assert drifted.returncode == 1
    assert "run `tenantry client generate`" in drifted.stderr
    assert (tmp_path / "api.py").read_text() == "# edited by hand\n"


def test_the_generated_client_passes_mypy_strict(tmp_path: Path) -> None:
    out, err, status = mypy.run(
        ["--strict", "--cache-dir", str(tmp_path / "cache"), "-p", "tenantry.client"]
    )
    assert status == 0, out + err


# The generator on the shapes the API may grow into, beyond what today's document has.
DOCUMENT = {
    "paths": {
        "/v1/things/{thing_id}/{kind}": {
            "get": {
                "tags": ["odd things"],
                "operationId": "get_thing_v1_things__thing_id___kind__get",
                "parameters": [
                    {
                        "name": "thing_id",
                        "in": "path",
                        "required": True,
                        "schema": {"type": "string", "format": "uuid"},
                    },
                    {
                        "name": "from",
                        "in": "query",
                        "required": True,
                        "schema": {"type": "string", "format": "date-time"},
                    },
                    {"name": "X-Trace", "in": "header", "schema": {"type": "string"}},
                ],
                "responses": {"200": {"content": {"text/plain": {"schema": {"type": "string"}}}}},
            },
        },
    },
    "components": {
        "schemas": {
            "pkg__Odd": {
                "type": "object",
                "properties": {"class": {"type": "integer"}, "ok": {"const": True}},
                "required": ["class"],
            },
        },
    },
}


def test_the_generator_names_what_python_cannot() -> None:
    api = codegen.render_api(DOCUMENT)
    # An undocumented path segment is still an argument; keywords and headers get safe names.
    assert (
        "async def get_thing(self, thing_id: UUID | str, kind: str, *, from_: datetime | str, "
        "x_trace: str | None = None) -> str:" in api
    )
    assert 'query={"from": from_}' in api
    assert 'headers={"X-Trace": x_trace}' in api
    assert "class OddThingsApi:" in api
    assert "self.odd_things = OddThingsApi(transport)" in api
    types = codegen.render_types(DOCUMENT)
    assert (
        """PkgOdd = TypedDict("PkgOdd", {"class": "int", "ok": "NotRequired[Literal[True]]"})"""
        in types
    )
