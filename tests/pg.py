"""A real, throwaway PostgreSQL 15 server on 127.0.0.1 for tests (no fixtures here: wrap it in one).

    server = PostgresServer()
    url = server.start()   # postgresql+asyncpg://callcenter:...@127.0.0.1:PORT/callcenter
    ...
    server.stop()          # stops the server and deletes its files

    replica = server.standby()   # a streaming replica on its own port (the second site)
    server.kill()                # SIGKILL of every process of the primary (the site is lost)
    replica.promote()            # pg_ctl promote: the replica takes writes

The cluster lives in a fresh temporary directory, listens on a free TCP port of 127.0.0.1 only and
on a Unix socket inside that directory, and runs with fsync off: it is fast and loses everything on
stop, which is the point. TCP logins need the password (scram-sha-256, as in production); the
superuser ``postgres`` is reached only over the private socket, to create users and databases.

PostgreSQL refuses to run as root, so as root the server runs as the ``postgres`` system user (which
the Debian package creates). A missing installation raises: tests fail, they never skip.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import pwd
import secrets
import shutil
import signal
import socket
import subprocess
import tempfile
import uuid
from pathlib import Path

from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import create_async_engine

BINDIR = Path("/usr/lib/postgresql/15/bin")
NOT_INSTALLED = "PostgreSQL 15 is not installed: apt-get install postgresql"
_START_ATTEMPTS = 3  # a free port can be taken between choosing it and binding it


class PostgresError(RuntimeError):
    """The throwaway server could not be set up; the message carries the tool's output."""


class PostgresServer:
    def __init__(
        self, *, user: str = "callcenter", database: str = "callcenter", bindir: Path = BINDIR
    ) -> None:
        self.user = user
        self.database = database
        self.password = secrets.token_urlsafe(16)
        self.port = 0
        self._bindir = bindir
        self._root: Path | None = None

    @property
    def url(self) -> str:
        return f"postgresql+asyncpg://{self.user}:{self.password}@127.0.0.1:{self.port}/{self.database}"

    def start(self) -> str:
        """Create and start the cluster, its user and database; return the database's URL."""
        if self._root is not None:
            return self.url
        for tool in ("initdb", "pg_ctl", "postgres", "psql"):
            if not (self._bindir / tool).is_file():
                raise PostgresError(NOT_INSTALLED)
        self._root = Path(tempfile.mkdtemp(prefix="callcenter-pg-"))
        atexit.register(self.stop)  # a test run that dies half-way still leaves no server behind
        try:
            self._init_cluster()
            self._start_server()
            # CREATEDB: tests that need an empty schema make their own database with the URL alone.
            self._psql(f"CREATE ROLE {self.user} LOGIN CREATEDB PASSWORD '{self.password}'")
            self._psql(f'CREATE DATABASE "{self.database}" OWNER {self.user}')
        except BaseException:
            self.stop()
            raise
        return self.url

    def stop(self) -> None:
        """Stop the server (at once: its data is thrown away) and delete its files. Idempotent."""
        root, self._root = self._root, None
        if root is None:
            return
        atexit.unregister(self.stop)
        try:
            if (root / "data" / "postmaster.pid").exists():
                self._run("pg_ctl", "stop", "-D", str(root / "data"), "-m", "immediate", "-w")
        finally:
            shutil.rmtree(root, ignore_errors=True)

    def standby(self) -> PostgresServer:
        """A streaming replica of this server (pg_basebackup over the private socket, standby.signal
        and primary_conninfo written by ``-R``), started on a free port of its own: the second
        site's database. Same user, password and databases; read-only until :meth:`promote`."""
        if self._root is None:
            raise PostgresError("start the primary first")
        replica = PostgresServer(user=self.user, database=self.database, bindir=self._bindir)
        replica.password = self.password
        replica._root = Path(tempfile.mkdtemp(prefix="callcenter-pg-replica-"))
        atexit.register(replica.stop)
        try:
            if os.geteuid() == 0:
                account = pwd.getpwnam("postgres")
                os.chown(replica._root, account.pw_uid, account.pw_gid)
            replica._run(
                "pg_basebackup",
                "-h",
                str(self._root),
                "-p",
                str(self.port),
                "-U",
                "postgres",
                "-D",
                str(replica._root / "data"),
                "-R",  # standby.signal + primary_conninfo: it streams from this server
                "-X",
                "stream",
                "--checkpoint=fast",  # the default, spread, made it wait minutes for the checkpoint
                "--no-sync",
            )
            replica._start_server()
        except BaseException:
            replica.stop()
            raise
        return replica

    def promote(self) -> None:
        """Make this standby a primary (``pg_ctl promote``; it waits until writes are accepted)."""
        assert self._root is not None
        self._run("pg_ctl", "promote", "-w", "-t", "60", "-D", str(self._root / "data"))

    def kill(self) -> None:
        """SIGKILL the postmaster and all its processes, as if the machine died; the files stay
        (``stop`` deletes them)."""
        assert self._root is not None
        pid_file = self._root / "data" / "postmaster.pid"
        postmaster = int(pid_file.read_text().split()[0])
        children = [
            int(stat.parent.name) for stat in Path("/proc").glob("[0-9]*/stat") if _parent(stat) == postmaster
        ]
        for pid in [postmaster, *children]:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        pid_file.unlink()

    def __enter__(self) -> str:
        return self.start()

    def __exit__(self, *_exc: object) -> None:
        self.stop()

    def _init_cluster(self) -> None:
        assert self._root is not None
        if os.geteuid() == 0:
            try:
                account = pwd.getpwnam("postgres")
            except KeyError as err:
                message = f"no 'postgres' system user to run the server as: {NOT_INSTALLED}"
                raise PostgresError(message) from err
            os.chown(self._root, account.pw_uid, account.pw_gid)
        self._run(
            "initdb",
            "-D",
            str(self._root / "data"),
            "-U",
            "postgres",
            "--auth-local=trust",  # only the postgres user can reach the socket directory
            "--auth-host=scram-sha-256",
            "--encoding=UTF8",
            "--locale=C",
            "--no-sync",
        )

    def _start_server(self) -> None:
        assert self._root is not None
        for attempt in range(1, _START_ATTEMPTS + 1):
            self.port = _free_port()
            options = f"-k {self._root} -h 127.0.0.1 -p {self.port} -F"
            try:
                self._run(
                    "pg_ctl",
                    "start",
                    "-w",
                    "-t",
                    "60",
                    "-D",
                    str(self._root / "data"),
                    "-l",
                    str(self._root / "server.log"),
                    "-o",
                    options,
                )
                return
            except PostgresError:
                if attempt == _START_ATTEMPTS:
                    raise

    def _psql(self, sql: str) -> None:
        assert self._root is not None
        self._run(
            "psql",
            "-X",
            "-q",
            "-v",
            "ON_ERROR_STOP=1",
            "-h",
            str(self._root),
            "-p",
            str(self.port),
            "-U",
            "postgres",
            "-d",
            "postgres",
            "-c",
            sql,
        )

    def _run(self, tool: str, *args: str) -> None:
        command = [str(self._bindir / tool), *args]
        if os.geteuid() == 0:
            command = ["runuser", "-u", "postgres", "--", *command]
        result = subprocess.run(
            command,
            cwd=tempfile.gettempdir(),  # postgres may not be allowed into the caller's directory
            capture_output=True,
            text=True,
            check=False,
        )
        if result.returncode != 0:
            raise PostgresError(
                f"{tool} failed ({result.returncode}): {result.stderr.strip()}{self._log_tail()}"
            )

    def _log_tail(self) -> str:
        log = self._root / "server.log" if self._root is not None else None
        if log is None or not log.exists():
            return ""
        lines = log.read_text(errors="replace").splitlines()[-20:]
        return "\nserver log:\n" + "\n".join(lines)


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _parent(stat: Path) -> int | None:
    """The parent pid in /proc/PID/stat (None: the process is gone)."""
    try:
        text = stat.read_text()
    except OSError:
        return None
    return int(text.rsplit(")", 1)[1].split()[1])


async def new_database(url: str, prefix: str = "test") -> str:
    """A fresh, empty database on the server of ``url`` (a superuser's or a CREATEDB user's URL):
    its URL. Each test gets its own, so tests never see each other's rows."""
    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    # CREATE DATABASE cannot run inside a transaction.
    engine = create_async_engine(url, isolation_level="AUTOCOMMIT")
    try:
        async with engine.connect() as connection:
            await connection.exec_driver_sql(f'CREATE DATABASE "{name}"')
    finally:
        await engine.dispose()
    return make_url(url).set(database=name).render_as_string(hide_password=False)
