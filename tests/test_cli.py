"""The command line honours DATABASE_URL; settings accept the usual URL spellings."""

import contextlib
import os
import socket
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator

import httpx

from booking.config import DEFAULT_DATABASE_URL, Settings, normalise_database_url


def test_database_url_spellings():
    assert normalise_database_url("postgres://u@h/db") == "postgresql+asyncpg://u@h/db"
    assert normalise_database_url("postgresql://u@h/db") == "postgresql+asyncpg://u@h/db"
    assert normalise_database_url("sqlite:///x.db") == "sqlite+aiosqlite:///x.db"
    assert normalise_database_url("postgresql+asyncpg://u@h/db") == "postgresql+asyncpg://u@h/db"
    assert Settings.from_env({}).database_url == DEFAULT_DATABASE_URL
    assert Settings.from_env({"DATABASE_URL": "sqlite:///y.db"}).database_url == "sqlite+aiosqlite:///y.db"


def test_solver_memory_limit_setting():
    assert Settings.from_env({}).solver_memory_mb == 2048
    assert Settings.from_env({"VENUESHARE_SOLVER_MEMORY_MB": "512"}).solver_memory_mb == 512


def test_sweep_interval_setting():
    assert Settings.from_env({}).sweep_every_s == 60
    assert Settings.from_env({"VENUESHARE_SWEEP_EVERY_S": "0"}).sweep_every_s == 0


def run_cli(*args: str, database_url: str, cwd) -> subprocess.CompletedProcess:
    env = {**os.environ, "DATABASE_URL": database_url}
    return subprocess.run(
        [sys.executable, "-m", "booking.cli", *args], env=env, cwd=cwd, capture_output=True, text=True, timeout=120
    )


def test_migrate_then_demo_twice(tmp_path):
    path = tmp_path / "cli.db"
    url = f"sqlite:///{path}"

    assert run_cli("migrate", database_url=url, cwd=tmp_path).returncode == 0
    with sqlite3.connect(path) as db:
        assert db.execute("SELECT version_num FROM alembic_version").fetchone() is not None
        assert db.execute("SELECT count(*) FROM venues").fetchone() == (0,)

    first = run_cli("demo", database_url=url, cwd=tmp_path)
    second = run_cli("demo", database_url=url, cwd=tmp_path)

    assert (first.returncode, second.returncode) == (0, 0), first.stderr + second.stderr
    assert "nothing changed" in second.stderr
    with sqlite3.connect(path) as db:
        assert db.execute("SELECT count(*) FROM venues").fetchone()[0] >= 20


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextlib.contextmanager
def serving(database_url: str, cwd, *options: str, env: dict[str, str] | None = None) -> Iterator[str]:
    """``venueshare serve`` in a process of its own; its base URL once it answers ``/health``."""
    port = free_port()
    environment = {k: v for k, v in os.environ.items() if k != "PROMETHEUS_MULTIPROC_DIR"}
    environment |= {"DATABASE_URL": database_url, "VENUESHARE_LOG_LEVEL": "warning", **(env or {})}
    server = subprocess.Popen(
        [sys.executable, "-m", "booking.cli", "serve", "--port", str(port), *options],
        env=environment,
        cwd=cwd,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 180  # with --demo, a term is planned first
        while True:
            try:
                httpx.get(f"{base}/health", timeout=2)
                break
            except httpx.TransportError:
                assert server.poll() is None, "the server exited"
                assert time.monotonic() < deadline, "the server did not come up"
                time.sleep(0.2)
        yield base
    finally:
        server.terminate()
        server.wait(timeout=30)


def test_serve_with_demo_answers_http(tmp_path):
    with serving(f"sqlite:///{tmp_path / 'serve.db'}", tmp_path, "--demo") as base:
        venues = httpx.get(f"{base}/api/v1/venues", params={"kind": "library"}, timeout=10)
        assert venues.status_code == 200
        assert venues.json()["total"] >= 1
        assert httpx.get(f"{base}/schema/openapi.json", timeout=5).status_code == 200
