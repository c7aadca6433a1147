"""Processes the benchmarks start: services and Alertmanager on free ports, and CPU accounting.

Every child is started through `setpriv --pdeathsig SIGTERM` (util-linux) when it is there, so a
benchmark killed with SIGKILL does not leave a server behind; the normal path stops them with
SIGTERM (then SIGKILL) in `finally` blocks.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

import httpx

CLK_TCK = os.sysconf("SC_CLK_TCK")
_SETPRIV = shutil.which("setpriv")


def with_parent(argv: list[str]) -> list[str]:
    """`argv`, made to receive SIGTERM when the benchmark process dies (even by SIGKILL)."""
    return [_SETPRIV, "--pdeathsig", "SIGTERM", "--", *argv] if _SETPRIV else argv


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Proc:
    """One long-running child process logging to a file."""

    name: str
    argv: list[str]
    log_path: Path
    env: dict[str, str] = field(default_factory=dict)
    popen: subprocess.Popen[bytes] | None = None

    @property
    def pid(self) -> int:
        assert self.popen is not None
        return self.popen.pid

    def start(self) -> Proc:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("ab") as log:
            self.popen = subprocess.Popen(
                with_parent(self.argv),
                env={**os.environ, **self.env},
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
            )
        return self

    def alive(self) -> bool:
        return self.popen is not None and self.popen.poll() is None

    def wait_http(self, url: str, timeout: float) -> None:
        """Poll `url` until it answers 200; fail with the log tail when the child exits or the
        deadline passes."""
        wait_http(url, timeout, self)

    def tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def stop(self, grace: float = 10.0) -> None:
        if self.popen is None or self.popen.poll() is not None:
            return
        self.popen.terminate()
        try:
            self.popen.wait(grace)
        except subprocess.TimeoutExpired:
            self.popen.kill()
            self.popen.wait(5)


# CPU accounting ------------------------------------------------------------------------------


def _proc_ticks(pid: int) -> int:
    """utime + stime of one process (all its threads), in clock ticks; 0 if it is gone."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            data = f.read()
    except OSError:
        return 0
    fields = data[data.rindex(b")") + 2 :].split()
    return int(fields[11]) + int(fields[12])


def _pids_named(comm: str) -> list[int]:
    pids = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/comm") as f:
                    if f.read().strip() == comm:
                        pids.append(int(entry))
            except OSError:
                continue
    return pids


def listener_pid(port: int) -> int | None:
    """The pid listening on 127.0.0.1:`port` (the Kafka broker), via `ss`."""
    try:
        out = subprocess.run(
            ["ss", "-Hltnp", f"sport = :{port}"], capture_output=True, text=True, timeout=5
        ).stdout
    except (OSError, subprocess.TimeoutExpired):
        return None
    for part in out.split("pid=")[1:]:
        digits = part.split(",")[0]
        if digits.isdigit():
            return int(digits)
    return None


def _system_ticks() -> tuple[int, int]:
    """(busy, total) jiffies of all CPUs, from /proc/stat."""
    with open("/proc/stat") as f:
        parts = [int(x) for x in f.readline().split()[1:]]
    idle = parts[3] + parts[4]  # idle + iowait
    total = sum(parts[:8])  # guest time is already inside user/nice
    return total - idle, total


@dataclass
class CpuMeter:
    """CPU seconds used during a window by named processes, the whole machine, and `children`
    (the benchmark's own reaped children: wrk)."""

    groups: dict[str, Callable[[], Iterable[int]]]
    _start: dict[str, dict[int, int]] = field(default_factory=dict)
    _sys: tuple[int, int] = (0, 0)
    _children: float = 0.0
    _t: float = 0.0

    @staticmethod
    def postgres_pids() -> list[int]:
        return _pids_named("postgres")

    @staticmethod
    def backends_of(database: str) -> Callable[[], list[int]]:
        """The PostgreSQL backends connected to `database` (the box's other work is not
        counted; the server's own writers are not either)."""
        mark = f" {database} ".encode()

        def pids() -> list[int]:
            found = []
            for pid in _pids_named("postgres"):
                try:
                    with open(f"/proc/{pid}/cmdline", "rb") as f:
                        if mark in f.read():
                            found.append(pid)
                except OSError:
                    continue
            return found

        return pids

    def _sample(self) -> dict[str, dict[int, int]]:
        return {name: {p: _proc_ticks(p) for p in pids()} for name, pids in self.groups.items()}

    def start(self) -> None:
        self._start = self._sample()
        self._sys = _system_ticks()
        ru = os.times()
        self._children = ru.children_user + ru.children_system
        self._t = time.monotonic()

    def stop(self, child_name: str = "wrk") -> dict[str, float]:
        """Per group: CPU used as a % of ONE core over the window; plus machine busy/idle %
        of ALL cores (200% = both cores busy)."""
        end = self._sample()
        busy1, total1 = _system_ticks()
        ru = os.times()
        wall = max(1e-6, time.monotonic() - self._t)
        out = {}
        for name in self.groups:
            # a process that exited in the window is not counted; one that started counts whole
            before = self._start.get(name, {})
            ticks = sum(t - before.get(pid, 0) for pid, t in end[name].items() if t)
            out[name] = round(100.0 * ticks / CLK_TCK / wall, 1)
        out[child_name] = round(
            100.0 * (ru.children_user + ru.children_system - self._children) / wall, 1
        )
        ncpu = os.cpu_count() or 1
        busy, total = busy1 - self._sys[0], max(1, total1 - self._sys[1])
        out["machine_busy"] = round(100.0 * ncpu * busy / total, 1)
        named = sum(v for k, v in out.items() if k != "machine_busy")
        out["other"] = round(max(0.0, out["machine_busy"] - named), 1)
        out["idle"] = round(100.0 * ncpu - out["machine_busy"], 1)
        out["window_s"] = round(wall, 3)
        return out


def machine_busy(window: float = 1.0) -> float:
    """Busy % of all cores together (200 = two cores busy) over `window` seconds (blocking)."""
    b0, t0 = _system_ticks()
    time.sleep(window)
    b1, t1 = _system_ticks()
    return 100.0 * (os.cpu_count() or 1) * (b1 - b0) / max(1, t1 - t0)


def wait_quiet(max_wait: float, threshold: float, window: float = 1.0) -> tuple[float, float]:
    """Wait (at most `max_wait` s) until the machine was below `threshold` busy % for two
    windows in a row: other work on the box (a test run) would skew the numbers.
    Returns (busy % of the last window, seconds waited)."""
    started = time.monotonic()
    calm = 0
    busy = machine_busy(window)
    while time.monotonic() - started < max_wait:
        calm = calm + 1 if busy < threshold else 0
        if calm >= 2:
            break
        busy = machine_busy(window)
    return busy, time.monotonic() - started


def family(pid: int) -> list[int]:
    """`pid` and every process below it."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as f:
                data = f.read()
        except OSError:
            continue
        ppid = int(data[data.rindex(b")") + 2 :].split()[1])
        children.setdefault(ppid, []).append(int(entry))
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        todo.extend(children.get(p, ()))
    return out


def wait_all_serving(port: int, pids: Callable[[], list[int]], timeout: float) -> int:
    """Wait until every process of `pids()` (a supervisor first, then its workers) that shares
    the listening socket on `port` holds one of 16 fresh connections: a worker still starting
    does not accept yet, and a run measured then would have one worker less. Returns how many
    serve."""
    deadline = time.monotonic() + timeout
    serving: set[int] = set()
    while True:
        family_pids = pids()
        procs = [p for p in family_pids if _has_listener(p, port)]
        if len(procs) > 1 and family_pids[0] in procs:
            procs.remove(family_pids[0])  # the supervisor binds the socket, its workers accept
        conns = []
        try:
            for _ in range(16):
                s = socket.create_connection(("127.0.0.1", port), timeout=5)
                conns.append(s)
                s.sendall(b"GET /healthz HTTP/1.1\r\nHost: bench\r\n\r\n")
                s.recv(4096)
            held = _tcp_inodes(port, state="01")
            serving.update(p for p in procs if _socket_inodes(p) & held)
        finally:
            for s in conns:
                s.close()
        if (procs and serving >= set(procs)) or time.monotonic() > deadline:
            return len(serving)
        time.sleep(0.2)


def _tcp_inodes(port: int, state: str) -> set[str]:
    """Inodes of TCP sockets in `state` (01 established, 0A listen) on local port `port`."""
    out = set()
    with open("/proc/net/tcp") as f:
        for line in f.read().splitlines()[1:]:
            parts = line.split()
            if parts[3] == state and int(parts[1].rsplit(":", 1)[1], 16) == port:
                out.add(parts[9])
    return out


def _socket_inodes(pid: int) -> set[str]:
    out: set[str] = set()
    try:
        fds = os.listdir(f"/proc/{pid}/fd")
    except OSError:
        return out
    for fd in fds:
        try:
            target = os.readlink(f"/proc/{pid}/fd/{fd}")
        except OSError:
            continue
        if target.startswith("socket:["):
            out.add(target[8:-1])
    return out


def _has_listener(pid: int, port: int) -> bool:
    return bool(_socket_inodes(pid) & _tcp_inodes(port, state="0A"))


def wait_http(url: str, timeout: float, proc: Proc | None = None) -> None:
    """Poll `url` until it answers 200, or fail at the deadline; with `proc`, fail as soon as
    that process exits, and show its log tail."""
    deadline = time.monotonic() + timeout
    last: object = None
    while time.monotonic() < deadline:
        if proc is not None and not proc.alive():
            raise RuntimeError(f"{proc.name} exited before it was ready:\n{proc.tail()}")
        try:
            r = httpx.get(url, timeout=2)
            if r.status_code == 200:
                return
            last = f"HTTP {r.status_code}: {r.text[:200]}"
        except httpx.HTTPError as exc:
            last = exc
        time.sleep(0.1)
    if proc is None:
        raise RuntimeError(f"not ready after {timeout:.0f}s at {url} (last: {last!r})")
    raise RuntimeError(
        f"{proc.name} not ready after {timeout:.0f}s at {url} (last: {last!r})\n{proc.tail()}"
    )


def family_thread_ticks(pids: Iterable[int]) -> dict[int, dict[int, int]]:
    """`thread_ticks` of several processes (an ingest's workers), by pid."""
    return {pid: thread_ticks(pid) for pid in pids}


def family_split(
    before: dict[int, dict[int, int]], after: dict[int, dict[int, int]], wall: float
) -> dict[str, float]:
    """`thread_split` summed over processes: every event loop, and every other thread."""
    total = {"main_thread": 0.0, "other_threads": 0.0}
    for pid, ticks in after.items():
        for key, value in thread_split(pid, before.get(pid, {}), ticks, wall).items():
            total[key] = round(total[key] + value, 1)
    return total


def thread_ticks(pid: int) -> dict[int, int]:
    """utime + stime per thread of `pid`, in clock ticks."""
    out = {}
    try:
        tids = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return {}
    for tid in tids:
        try:
            with open(f"/proc/{pid}/task/{tid}/stat", "rb") as f:
                data = f.read()
        except OSError:
            continue
        fields = data[data.rindex(b")") + 2 :].split()
        out[int(tid)] = int(fields[11]) + int(fields[12])
    return out


def thread_split(
    pid: int, before: dict[int, int], after: dict[int, int], wall: float
) -> dict[str, float]:
    """CPU % of one core used by the main thread (the event loop) and by all other threads."""
    main = after.get(pid, 0) - before.get(pid, 0)
    rest = sum(t - before.get(tid, 0) for tid, t in after.items() if tid != pid)
    scale = 100.0 / CLK_TCK / max(1e-6, wall)
    return {"main_thread": round(main * scale, 1), "other_threads": round(rest * scale, 1)}


ALERTMANAGER = "prometheus-alertmanager"


async def start_alertmanager(
    stack: contextlib.AsyncExitStack, config: str, log_path: Path
) -> tuple[Proc, str]:
    """Debian's Alertmanager on a free port with `config`, stopped when `stack` closes; the
    process and its URL once it answers `/-/ready`."""
    work = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="bench-am-")))
    (work / "alertmanager.yml").write_text(config)
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    am = Proc(
        "alertmanager",
        [
            ALERTMANAGER,
            f"--config.file={work / 'alertmanager.yml'}",
            f"--storage.path={work / 'data'}",
            f"--web.listen-address=127.0.0.1:{port}",
            f"--web.external-url={url}",
            "--cluster.listen-address=",
            "--log.level=warn",
        ],
        log_path,
    )
    stack.callback(am.stop)
    try:
        am.start()
    except FileNotFoundError:
        raise RuntimeError(f"{ALERTMANAGER} is missing: run `bash deploy/local/tools.sh`") from None
    await asyncio.to_thread(am.wait_http, url + "/-/ready", 60)
    return am, url
