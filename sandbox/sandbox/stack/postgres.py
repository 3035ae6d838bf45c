"""A throwaway PostgreSQL (the repository's scripts/pg_test.sh: a private unix socket, no TCP port) that its
owner may stop, start and restart mid-run, and make fresh databases on."""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
from pathlib import Path

import sqlalchemy as sa

from app.config import ROOT

PG_TEST = ROOT / "scripts" / "pg_test.sh"


def pg_bin() -> Path | None:
    versions = sorted(Path("/usr/lib/postgresql").glob("*/bin"), key=lambda p: int(p.parent.name)
                      if p.parent.name.isdigit() else 0)
    return versions[-1] if versions else None


def postgres_available() -> str | None:
    """None when a throwaway PostgreSQL can be started here, else why not."""
    if pg_bin() is None:
        return "PostgreSQL is not installed (scripts/test.sh installs it)"
    if os.getuid() == 0 and shutil.which("runuser") is None:
        return "running as root without runuser"
    return None


class Postgres:
    """A throwaway PostgreSQL (scripts/pg_test.sh) this process may stop and restart; `close()` removes it."""

    def __init__(self):
        out = subprocess.run([str(PG_TEST), "start"], capture_output=True, text=True, check=True,  # noqa: S603
                             timeout=120).stdout
        values = dict(line.split(" ", 1)[1].split("=", 1) for line in out.strip().splitlines())
        self.dir = values["PGTEST_DIR"]
        self.url = values["TEST_DATABASE_URL"].strip("'")
        self._made = 0

    def _ctl(self, *args: str) -> None:
        as_pg = ["runuser", "-u", "postgres", "--"] if os.getuid() == 0 else []
        # -l: the server's output goes to its log, so no pipe of ours stays open behind it
        subprocess.run([*as_pg, str(pg_bin() / "pg_ctl"), "-D", f"{self.dir}/data", "-l", f"{self.dir}/server.log",  # noqa: S603
                        "-w", "-t", "60", *args], check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                       timeout=90)

    def stop_server(self, mode: str = "fast") -> None:
        self._ctl("-m", mode, "stop")

    def start_server(self) -> None:
        # pg_ctl start does not reuse the options of the last start (pg_ctl restart does): pass them again
        argv = shlex.split(Path(self.dir, "data", "postmaster.opts").read_text())[1:]  # after the postgres binary
        options = [a for i, a in enumerate(argv) if a != "-D" and (i == 0 or argv[i - 1] != "-D")]
        self._ctl("-o", shlex.join(options), "start")

    def running(self) -> bool:
        as_pg = ["runuser", "-u", "postgres", "--"] if os.getuid() == 0 else []
        return subprocess.run([*as_pg, str(pg_bin() / "pg_ctl"), "-D", f"{self.dir}/data", "status"],  # noqa: S603
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=30).returncode == 0

    def restart(self, mode: str = "fast") -> None:
        self._ctl("-m", mode, "restart")

    def database(self, prefix: str = "resilience", *, replace: bool = False) -> str:
        """A new, empty database on this server (`replace`: under exactly this name, dropped first); its URL."""
        self._made += 1
        name = prefix if replace else f"{prefix}_{os.getpid()}_{self._made}"
        engine = sa.create_engine(self.url, isolation_level="AUTOCOMMIT")
        with engine.connect() as conn:
            if replace:
                conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}"'))
            conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
        engine.dispose()
        return self.url.replace("/app_test?", f"/{name}?")

    def close(self) -> None:
        subprocess.run([str(PG_TEST), "stop"], env={**os.environ, "PGTEST_DIR": self.dir}, check=False,  # noqa: S603
                       timeout=120)
