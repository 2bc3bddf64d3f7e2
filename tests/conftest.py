"""Shared fixtures: the demo data in DuckDB, and the same data on every backend we test.

PostgreSQL and MariaDB/MySQL run when JS_TEST_POSTGRES_URL / JS_TEST_MYSQL_URL point at a server
(their tests skip otherwise, or fail when JS_REQUIRE_ALL_BACKENDS=1, as in CI). Spark runs when PySpark
and Java are installed (same rule): one local[2] session per test run (``spark_session``), its own
``js_test_spark_<pid>`` database and a warehouse under pytest's temporary directory, dropped at the end.
Spark is not in BACKEND_NAMES: tests/test_spark.py runs the backend and oracle tests on it by name. For a database
named ``js_test*`` each session works in its own ``js_test*_<pid>`` database, created fresh and
dropped at the end, so concurrent sessions do not trample each other; any other database only has
the demo tables replaced.
"""

from __future__ import annotations

import datetime as dt
import importlib
import os
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from typing import Any, NoReturn

import pandas as pd
import pytest

from jupyter_segments import demo
from jupyter_segments.backends import open_backend
from jupyter_segments.backends.base import Backend

DEMO_ANCHOR = dt.date(2025, 6, 30)
DEMO_SIZE = 2_000
DEMO_SEED = 7
BACKEND_NAMES = ("duckdb", "sqlite", "postgres", "mysql")

_SERVER_ENV = {"postgres": "JS_TEST_POSTGRES_URL", "mysql": "JS_TEST_MYSQL_URL"}
_SERVER_KIND = {"postgres": "PostgreSQL", "mysql": "MariaDB/MySQL"}


def _unavailable(message: str, *, module_level: bool = False) -> NoReturn:
    """Skip, or fail when CI demands every backend and tool (JS_REQUIRE_ALL_BACKENDS=1).

    Every skip for a missing server, program or package goes through here, so that CI, which has
    them all, can never pass by skipping. ``module_level``: called while a test module is imported.
    """
    if os.environ.get("JS_REQUIRE_ALL_BACKENDS") == "1":
        pytest.fail(f"{message} (JS_REQUIRE_ALL_BACKENDS=1)", pytrace=False)
    pytest.skip(message, allow_module_level=module_level)


unavailable = _unavailable


def require_module(name: str, *, module_level: bool = False) -> Any:
    """Import ``name``, or skip (fail under JS_REQUIRE_ALL_BACKENDS=1) saying what to install."""
    try:
        return importlib.import_module(name)
    except ImportError as e:
        _unavailable(f"{name} is not installed ({e}): pip install -e '.[test]'", module_level=module_level)


def require_program(path: str, what: str) -> None:
    """Skip (fail under JS_REQUIRE_ALL_BACKENDS=1) when the program at ``path`` is missing."""
    if not os.path.exists(path):
        _unavailable(f"{path} is missing: {what}")


def server_url(name: str) -> str:
    """The URL in JS_TEST_POSTGRES_URL / JS_TEST_MYSQL_URL (``name``: postgres or mysql), or skip/fail."""
    url = os.environ.get(_SERVER_ENV[name])
    if not url:
        _unavailable(f"set {_SERVER_ENV[name]} to a {_SERVER_KIND[name]} database to run this")
    return url


@pytest.fixture(scope="session")
def demo_conn() -> Iterator:
    """The demo database in DuckDB (DEMO_SIZE customers, DEMO_SEED, anchored at DEMO_ANCHOR)."""
    conn = demo.generate(DEMO_SIZE, seed=DEMO_SEED, anchor=DEMO_ANCHOR)
    yield conn
    conn.close()


@pytest.fixture(scope="session")
def demo_frames(demo_conn) -> dict[str, pd.DataFrame]:
    """The demo tables as DataFrames ordered by primary key: the oracle for backend tests."""
    return demo.frames(demo_conn)


@pytest.fixture(scope="session", params=BACKEND_NAMES)
def backend_name(request) -> str:
    return request.param


def _admin_engine(name: str, url):
    import sqlalchemy as sa

    # Connect to a database that always exists to create or drop the test one.
    return sa.create_engine(
        url.set(database="postgres" if name == "postgres" else "mysql"), isolation_level="AUTOCOMMIT"
    )


def _session_database(name: str, url: str) -> str:
    """The URL of this session's database, created fresh.

    A ``js_test*`` database name gets this process's id appended (js_test_12345): each pytest
    session -- colleagues on one box, xdist workers -- then has its own database to drop and
    reload, and drops it at the end. Any other name is used as given and only has the demo tables
    replaced.
    """
    import sqlalchemy as sa

    from jupyter_segments.backends.sqlalchemy_backend import normalize_url

    u = normalize_url(url)
    if not u.database:
        raise ValueError(f"{_SERVER_ENV[name]} must name a database")
    db = f"{u.database}_{os.getpid()}" if u.database.startswith("js_test") else u.database
    admin = _admin_engine(name, u)
    try:
        with admin.connect() as c:
            q = c.dialect.identifier_preparer.quote
            if db != u.database:
                force = " WITH (FORCE)" if name == "postgres" else ""
                c.exec_driver_sql(f"DROP DATABASE IF EXISTS {q(db)}{force}")
            if name == "postgres":
                exists = c.execute(sa.text("SELECT 1 FROM pg_database WHERE datname = :d"), {"d": db}).first()
                if not exists:
                    c.exec_driver_sql(f"CREATE DATABASE {q(db)} ENCODING 'UTF8' TEMPLATE template0")
            else:
                c.exec_driver_sql(f"CREATE DATABASE IF NOT EXISTS {q(db)} CHARACTER SET utf8mb4")
    finally:
        admin.dispose()
    return u.set(database=db).render_as_string(hide_password=False)


def _drop_session_database(name: str, url: str) -> None:
    from jupyter_segments.backends.sqlalchemy_backend import normalize_url

    u = normalize_url(url)
    if not u.database.endswith(f"_{os.getpid()}"):  # only the database this session made
        return
    admin = _admin_engine(name, u)
    try:
        with admin.connect() as c:
            force = " WITH (FORCE)" if name == "postgres" else ""
            c.exec_driver_sql(
                f"DROP DATABASE IF EXISTS {c.dialect.identifier_preparer.quote(u.database)}{force}"
            )
    finally:
        admin.dispose()


class _Backends:
    """Backends loaded once per session, whatever order pytest runs the parametrised tests in."""

    def __init__(self, tmp_dir) -> None:
        self.tmp_dir = tmp_dir
        self.loaded: dict[str, Backend] = {}
        self.failed: dict[str, str] = {}
        self.server_urls: dict[str, str] = {}
        self.spark = None  # the pyspark.sql.SparkSession, once started

    def get(self, name: str, demo_conn) -> Backend:
        if name in self.failed:
            _unavailable(self.failed[name])
        if name not in self.loaded:
            try:
                self.loaded[name] = self._open(name, demo_conn)
            except _Unavailable as e:
                self.failed[name] = str(e)
                _unavailable(str(e))
        return self.loaded[name]

    def _open(self, name: str, demo_conn) -> Backend:
        if name == "spark":
            backend = self._spark_backend()
            demo.copy_to(demo_conn, backend)  # Spark keeps no PRIMARY or FOREIGN KEYs
            for table in demo.TABLES:  # read from memory: the suite runs ~250 small queries on them
                self.spark.catalog.cacheTable(f"{SPARK_DATABASE}.{table}")
            return backend
        if name == "duckdb":
            backend = open_backend("duckdb:///:memory:")
        elif name == "sqlite":
            backend = open_backend(f"sqlite:///{self.tmp_dir / 'demo.db'}")
        else:
            env = _SERVER_ENV[name]
            url = os.environ.get(env)
            if not url:
                raise _Unavailable(f"set {env} to a {_SERVER_KIND[name]} database to run these")
            try:
                session_url = _session_database(name, url)
                backend = open_backend(session_url)
                self.server_urls[name] = session_url
                backend.scalar("SELECT 1")
            except Exception as e:  # unreachable server, bad credentials, missing driver
                raise _Unavailable(
                    f"{_SERVER_KIND[name]} at {env} is not usable: {type(e).__name__}: {e}"
                ) from e
        demo.copy_to(demo_conn, backend, constraints=True)
        return backend

    def _spark_backend(self) -> Backend:
        """A SparkBackend on the run's one Spark session, in the run's own database."""
        return open_backend(self.spark_session())

    def spark_session(self):
        """The test run's one local Spark session (started on first use; Spark takes ~10 s to start),
        its current database ``js_test_spark_<pid>``, created fresh."""
        if self.spark is None:
            if "spark" in self.failed:
                _unavailable(self.failed["spark"])
            try:
                self.spark = _start_spark(self.tmp_dir / "spark")
            except _Unavailable as e:
                self.failed["spark"] = str(e)
                _unavailable(str(e))
            self.spark.sql(f"DROP DATABASE IF EXISTS {SPARK_DATABASE} CASCADE")
            self.spark.sql(f"CREATE DATABASE {SPARK_DATABASE}")
            self.spark.catalog.setCurrentDatabase(SPARK_DATABASE)
        return self.spark

    def close(self) -> None:
        for backend in self.loaded.values():
            backend.close()
        for name, url in self.server_urls.items():
            _drop_session_database(name, url)
        if self.spark is not None:
            self.spark.sql(f"DROP DATABASE IF EXISTS {SPARK_DATABASE} CASCADE")
            self.spark.stop()


class _Unavailable(Exception):
    pass


SPARK_DATABASE = f"js_test_spark_{os.getpid()}"
SPARK_CONF = {
    "spark.ui.enabled": "false",
    "spark.ui.showConsoleProgress": "false",
    "spark.sql.shuffle.partitions": "2",  # the demo is small: 200 partitions would be 200 tiny tasks
    "spark.default.parallelism": "2",
    "spark.sql.session.timeZone": "UTC",  # no daylight-saving gaps in the demo's naive timestamps
    "spark.driver.host": "127.0.0.1",
    "spark.driver.bindAddress": "127.0.0.1",
    "spark.sql.catalogImplementation": "in-memory",  # no Hive metastore (no metastore_db/ directory)
    "spark.log.level": "WARN",  # the Connect server logs every request at INFO
}


def _start_spark(directory):
    """A local[2] SparkSession with its warehouse under ``directory``, or _Unavailable saying why not."""
    try:
        from pyspark.sql import SparkSession
    except ImportError as e:
        raise _Unavailable(f"PySpark is not installed ({e}): pip install -e '.[spark]'") from e
    java_home = os.environ.get("JAVA_HOME")
    if not shutil.which("java") and not (
        java_home and os.path.exists(os.path.join(java_home, "bin", "java"))
    ):
        raise _Unavailable("Spark needs Java 17+ and there is no java on PATH nor JAVA_HOME")
    builder = SparkSession.builder.master("local[2]").appName("jupyter-segments-tests")
    for key, value in {
        **SPARK_CONF,
        "spark.sql.warehouse.dir": str(directory / "warehouse"),
        "spark.local.dir": str(directory / "local"),
        "spark.driver.extraJavaOptions": f"-Dderby.system.home={directory / 'derby'}",
    }.items():
        builder = builder.config(key, value)
    try:
        spark = builder.getOrCreate()
    except Exception as e:  # noqa: BLE001 - the JVM did not start: report it as unavailable
        raise _Unavailable(f"Spark did not start: {type(e).__name__}: {e}") from e
    spark.sparkContext.setLogLevel("ERROR")
    return spark


@pytest.fixture(scope="session")
def _backends(tmp_path_factory) -> Iterator[_Backends]:
    backends = _Backends(tmp_path_factory.mktemp("backends"))
    yield backends
    backends.close()


@pytest.fixture(scope="session")
def demo_backend(backend_name, _backends, demo_conn) -> Backend:
    """A Backend of kind ``backend_name`` holding the demo data, with PRIMARY and FOREIGN KEYs."""
    return _backends.get(backend_name, demo_conn)


@pytest.fixture(scope="session")
def spark_session(_backends):
    """The run's one local[2] SparkSession (skips, or fails under JS_REQUIRE_ALL_BACKENDS=1, without
    PySpark or Java)."""
    return _backends.spark_session()


@pytest.fixture(scope="session")
def spark_backend(_backends, demo_conn) -> Backend:
    """A SparkBackend holding the demo data (no keys: Spark has none), in the run's own database."""
    return _backends.get("spark", demo_conn)


@pytest.fixture(scope="session")
def spark_connect_url(tmp_path_factory, spark_session) -> Iterator[str]:
    """``sc://127.0.0.1:<port>`` of a Spark Connect server (a second local[2] JVM) started once per test
    run and stopped at its end (skips, or fails under JS_REQUIRE_ALL_BACKENDS=1, without PySpark's
    Connect client, Java or the server).

    The run's classic session (``spark_session``) is started first, whatever order the tests run in:
    once a Connect session exists, PySpark marks the process as Spark Connect only
    (SPARK_CONNECT_MODE_ENABLED) and refuses to start a classic one."""
    require_module("pyspark.sql.connect.session")  # grpcio, zstandard...: pip install 'pyspark[connect]'
    server = _SparkConnectServer(tmp_path_factory.mktemp("spark_connect"))
    try:
        yield server.start()
    finally:
        server.stop()


class _SparkConnectServer:
    """pyspark's own SparkConnectServer class run by its spark-submit, on a free port of 127.0.0.1."""

    def __init__(self, directory) -> None:
        self.directory = directory
        self.process = None

    def start(self) -> str:
        import pyspark  # optional: only when a Connect test runs (require_module checked it)

        home = os.path.dirname(pyspark.__file__)
        jars = [j for j in os.listdir(os.path.join(home, "jars")) if j.startswith("spark-connect_")]
        if not jars or not (shutil.which("java") or os.environ.get("JAVA_HOME")):
            _unavailable(f"Spark Connect needs Java 17+ and pyspark's spark-connect jar (found: {jars})")
        with socket.socket() as s:  # a free port (another run may take it first: then the start fails)
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        conf = {
            **SPARK_CONF,
            "spark.connect.grpc.binding.address": "127.0.0.1",
            "spark.connect.grpc.binding.port": str(port),
            "spark.sql.warehouse.dir": str(self.directory / "warehouse"),
            "spark.local.dir": str(self.directory / "local"),
        }
        command = [os.path.join(home, "bin", "spark-submit"), "--master", "local[2]", "--class",
                   "org.apache.spark.sql.connect.service.SparkConnectServer"]  # fmt: skip
        for key, value in conf.items():
            command += ["--conf", f"{key}={value}"]
        log = self.directory / "server.log"
        with open(log, "wb") as out:
            self.process = subprocess.Popen(
                [*command, os.path.join(home, "jars", jars[0])],
                stdout=out, stderr=subprocess.STDOUT, cwd=self.directory, start_new_session=True,
            )  # fmt: skip
        deadline = time.monotonic() + 300  # a JVM start takes 10 s alone, minutes on a loaded machine
        while time.monotonic() < deadline and self.process.poll() is None:
            try:  # the server listens once it is ready (its INFO line is not logged at WARN)
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                return f"sc://127.0.0.1:{port}"
            except OSError:
                time.sleep(0.5)
        tail = log.read_text(errors="replace").strip().splitlines()[-5:]
        self.stop()
        _unavailable("the Spark Connect server did not start: " + " | ".join(tail))

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()  # spark-submit's JVM is the process itself (exec)
            try:
                self.process.wait(30)
            except Exception:  # noqa: BLE001 - subprocess.TimeoutExpired: no clean shutdown
                self.process.kill()
                self.process.wait()
