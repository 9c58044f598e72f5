"""`tenantry client generate`: the typed Python client, written from the API's own OpenAPI."""

from __future__ import annotations

import difflib
import subprocess
import sys
from pathlib import Path

import typer

from tenantry.cli._common import console, err_console, settings
from tenantry.client import codegen
from tenantry.web import create_app

app = typer.Typer(no_args_is_help=True, help="The typed Python client of the REST API.")

CLIENT = Path(__file__).resolve().parent.parent / "client"


def client_sources() -> dict[str, str]:
    """The generated modules of `tenantry.client` (file name -> text) for this service's API:
    Tenantry's routes and those of every installed module, formatted as the repository is."""
    document = create_app(settings()).openapi()
    return {
        "types.py": formatted(codegen.render_types(document)),
        "api.py": formatted(codegen.render_api(document)),
    }


def formatted(source: str) -> str:
    """`source` as `ruff format` writes it (line length 100, no configuration file read)."""
    try:
        done = subprocess.run(
            [sys.executable, "-m", "ruff", "format", "--isolated", "--line-length", "100", "-"],
            input=source,
            capture_output=True,
            text=True,
            check=False,
        )
    except OSError as exc:
        raise typer.BadParameter(f"cannot run ruff: {exc}") from exc
    if done.returncode != 0:
        message = done.stderr.strip() or "ruff is not installed (pip install ruff)"
        raise typer.BadParameter(f"formatting the client failed: {message}")
    return done.stdout


@app.command("generate")
def generate_command(
    out: Path = typer.Option(CLIENT, "--out", help="The folder to write api.py and types.py to."),
    check: bool = typer.Option(
        False, "--check", help="Write nothing; exit 1 if the files differ from the API."
    ),
) -> None:
    """Regenerate the client's api.py and types.py from the service's OpenAPI document."""
    sources = client_sources()
    stale = [
        name
        for name, text in sources.items()
        if not (out / name).is_file() or (out / name).read_text() != text
    ]
    if check:
        for name in stale:
            current = (out / name).read_text().splitlines() if (out / name).is_file() else []
            diff = difflib.unified_diff(current, sources[name].splitlines(), name, name, n=1)
            err_console.print("\n".join(list(diff)[:40]), markup=False, highlight=False)
        if stale:
            err_console.print(f"out of date: {', '.join(stale)}; run `tenantry client generate`")
            raise typer.Exit(1)
        console.print("the client is up to date")
        return
    out.mkdir(parents=True, exist_ok=True)
    for name in stale:
        (out / name).write_text(sources[name])
    console.print(f"{len(stale)} of {len(sources)} files written to {out}")
