"""Debian daemons a test runs beside the stack (Alertmanager, Prometheus): found on the machine
or the test fails, started on loopback in a work directory of their own, waited on, stopped."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import httpx
import pytest

from tests.support.processes import wait_for


def require(binary: str) -> str:
    """The Debian tool's path; its absence is a broken machine, so fail rather than skip."""
    path = shutil.which(binary)
    if path is None:
        pytest.fail(
            f"`{binary}` is not installed: run `bash deploy/local/tools.sh` "
            "(or `make test`, which does)"
        )
    return path


def stop_process(proc: subprocess.Popen[bytes]) -> None:
    """SIGTERM, then SIGKILL if it is still there after 15 s."""
    proc.terminate()
    try:
        proc.wait(15)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(5)


class Daemon:
    """A daemon on loopback with a work directory of its own, waited on via `/-/ready`."""

    def __init__(self, name: str, argv: list[str], url: str, workdir: Path) -> None:
        self.name, self.url, self.log = name, url, workdir / f"{name}.log"
        with self.log.open("ab") as log:
            self.proc = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT)

        def ready() -> bool:
            if self.proc.poll() is not None:
                raise AssertionError(f"{name} exited:\n{self.tail()}")
            return httpx.get(url + "/-/ready", timeout=2).status_code == 200

        try:
            wait_for(f"{name} /-/ready", ready, timeout=30, every=0.1)
        except AssertionError as exc:
            self.stop()
            raise AssertionError(f"{exc}\n{self.tail()}") from None

    def tail(self) -> str:
        return self.log.read_text(errors="replace")[-3000:]

    def stop(self) -> None:
        stop_process(self.proc)
