"""A real `registry serve` in a subprocess, for the command-line and browser tests."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from tests.helpers import registry_command

START_TIMEOUT_SECONDS = 120


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def clean_env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """This process's environment without any REGISTRY_* (or Piccolo) setting, plus `extra`."""
    env = {key: value for key, value in os.environ.items() if not key.startswith(("REGISTRY_", "PICCOLO_"))}
    env.update(extra or {})
    return env


@dataclass(frozen=True)
class DemoUser:
    username: str
    password: str
    roles: str
    full_name: str


@dataclass
class LiveServer:
    """`registry serve ARGS` started in `cwd`, in its own process group so that it and its workers stop together."""

    cwd: Path
    args: list[str]
    env: dict[str, str]
    port: int = field(default_factory=free_port)
    process: subprocess.Popen | None = None
    stdout_lines: list[str] = field(default_factory=list)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def stderr_path(self) -> Path:
        return self.cwd / f"serve-{self.port}.stderr"

    def start(self) -> LiveServer:
        self.cwd.mkdir(parents=True, exist_ok=True)
        command = [*registry_command(), "serve", "--host", "127.0.0.1", "--port", str(self.port), *self.args]
        with open(self.stderr_path, "wb") as stderr:
            self.process = subprocess.Popen(
                command, cwd=self.cwd, env=self.env, stdout=subprocess.PIPE, stderr=stderr,
                stdin=subprocess.DEVNULL, text=True, encoding="utf-8", start_new_session=True,
            )
        threading.Thread(target=self._read_stdout, daemon=True).start()
        self.wait_until_healthy()
        return self

    def _read_stdout(self) -> None:
        assert self.process is not None and self.process.stdout is not None
        for line in self.process.stdout:
            self.stdout_lines.append(line.rstrip("\n"))

    def diagnostics(self) -> str:
        stderr = self.stderr_path.read_text(errors="replace") if self.stderr_path.exists() else ""
        return f"stdout:\n{chr(10).join(self.stdout_lines)}\nstderr:\n{stderr[-4000:]}"

    def wait_until_healthy(self) -> httpx.Response:
        deadline = time.monotonic() + START_TIMEOUT_SECONDS
        while True:
            assert self.process is not None
            if self.process.poll() is not None:
                raise AssertionError(f"registry serve exited with {self.process.returncode}\n{self.diagnostics()}")
            try:
                response = httpx.get(f"{self.url}/health", timeout=5)
                if response.status_code == 200:
                    return response
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise AssertionError(f"registry serve did not answer /health in time\n{self.diagnostics()}")
            time.sleep(0.2)

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=30)

    def __enter__(self) -> LiveServer:
        try:
            return self.start()
        except BaseException:
            self.stop()
            raise

    def __exit__(self, *_exc) -> None:
        self.stop()

    def demo_users(self) -> list[DemoUser]:
        """The credentials `serve --demo` printed: the indented lines after its heading."""
        users = []
        heading = next((i for i, line in enumerate(self.stdout_lines) if line.startswith("Demo province loaded")), None)
        assert heading is not None, self.diagnostics()
        for line in self.stdout_lines[heading + 1 :]:
            if not line.startswith("  "):
                break
            username, password, roles, full_name = line.split(None, 3)
            users.append(DemoUser(username, password, roles, full_name.split(" — ")[0]))
        return users
