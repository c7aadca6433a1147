"""The README's and docs' examples answer as printed: every shell block marked
`<!-- doc-test: run -->` runs against the services (one bash per file, so a block sees the
variables of the blocks before it, as a reader's shell does), and every HTTP error fails it;
every YAML block marked `<!-- doc-test: apply -->` is applied with `pacta apply`, twice (the
second time changes nothing).

What is rewritten on the way: `localhost:800N` (or `127.0.0.1:800N`) becomes the test services' ports, the
development keys become the test keys, the mail catcher's port 2525 a free one, `pacta` and
`.venv/bin/python` this interpreter. Nothing else: a block that fails here fails for a reader."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.client import ADMIN_KEY, INGEST_KEY
from tests.support.processes import ServiceProcess, free_port

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def stack(own_stack: dict[str, ServiceProcess]) -> dict[str, ServiceProcess]:
    """A stack of this module's own: what it loads (routes, catch-all policies, services a
    user would name) must not reach the other end-to-end tests."""
    return own_stack


ROOT = Path(__file__).resolve().parents[2]
MARK = "<!-- doc-test: run -->"
BLOCK = re.compile(re.escape(MARK) + r"\n```(?:bash|sh)\n(.*?)\n```", re.S)
APPLY = re.compile(r"<!-- doc-test: apply -->\n```yaml\n(.*?)\n```", re.S)
PORTS = {"8001": "ingest", "8002": "sla_engine", "8003": "alerting", "8004": "reporting"}
PRELUDE = """set -euo pipefail
curl() { command curl --fail-with-body --max-time 30 "$@"; }
pacta() { "$PY" -m pacta_cli "$@"; }
trap 'kill $(jobs -p) 2>/dev/null || true' EXIT
"""


def marked_blocks(path: Path) -> list[tuple[int, str]]:
    """(line, code) of every marked block of a file."""
    text = path.read_text()
    return [(text[: m.start()].count("\n") + 2, m.group(1)) for m in BLOCK.finditer(text)]


def documents(mark: str = MARK) -> list[Path]:
    return [
        p
        for p in [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
        if mark in p.read_text()
    ]


def cli_env(stack: dict[str, ServiceProcess], home: Path) -> dict[str, str]:
    return {
        "PATH": "/usr/bin:/bin",
        "HOME": str(home),
        "PY": sys.executable,
        "PACTA_INGEST_URL": stack["ingest"].url,
        "PACTA_SLA_ENGINE_URL": stack["sla_engine"].url,
        "PACTA_ALERTING_URL": stack["alerting"].url,
        "PACTA_REPORTING_URL": stack["reporting"].url,
        "XDG_CONFIG_HOME": str(home / "config"),
    }


def rewrite(code: str, stack: dict[str, ServiceProcess], mail_port: int) -> str:
    for port, name in PORTS.items():
        for host in ("localhost", "127.0.0.1"):
            code = code.replace(f"{host}:{port}", f"127.0.0.1:{stack[name].port}")
    code = code.replace("dev-admin-key", ADMIN_KEY).replace("dev-ingest-key", INGEST_KEY)
    code = code.replace(".venv/bin/python", '"$PY"').replace("2525", str(mail_port))
    return code


def test_the_readme_and_alerting_docs_have_marked_examples() -> None:
    names = {p.name for p in documents()}
    assert {"README.md", "alerting.md", "integrations.md"} <= names
    assert len(marked_blocks(ROOT / "README.md")) >= 7
    assert "resources.md" in {p.name for p in documents("<!-- doc-test: apply -->")}


@pytest.mark.parametrize("path", documents("<!-- doc-test: apply -->"), ids=lambda p: p.name)
def test_the_yaml_examples_apply(
    stack: dict[str, ServiceProcess], tmp_path: Path, path: Path
) -> None:
    blocks = APPLY.findall(path.read_text())
    assert blocks
    env = {**cli_env(stack, tmp_path), "PACTA_API_KEY": ADMIN_KEY}
    for n, block in enumerate(blocks):
        folder = tmp_path / f"block{n}"
        folder.mkdir()
        (folder / "example.yaml").write_text(block)
        for round_ in ("first", "again"):
            done = subprocess.run(
                [sys.executable, "-m", "pacta_cli", "apply", "-f", str(folder)],
                env=env,
                capture_output=True,
                text=True,
                timeout=60,
            )
            assert done.returncode == 0, f"{path.name} block {n}: {done.stderr}"
            if round_ == "again":
                assert " 0 of " in f" {done.stdout}", done.stdout


@pytest.mark.parametrize("path", documents(), ids=lambda p: p.name)
def test_the_examples_run_as_written(
    stack: dict[str, ServiceProcess], tmp_path: Path, path: Path
) -> None:
    mail_port = free_port()
    script = [PRELUDE]
    for line, code in marked_blocks(path):
        script.append(f"echo '--- {path.name} line {line}' >&2")
        script.append(rewrite(code, stack, mail_port))
    env = cli_env(stack, tmp_path)
    done = subprocess.run(
        ["bash", "-c", "\n".join(script)],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
    )
    last = done.stderr.rsplit("--- ", 1)[-1]
    assert done.returncode == 0, (
        f"{path.name}: the block at {last.splitlines()[0] if last else '?'} failed "
        f"(exit {done.returncode})\nstdout:\n{done.stdout[-3000:]}\nstderr:\n{done.stderr[-3000:]}"
    )
