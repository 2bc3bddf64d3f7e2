"""Database backends: ``open_backend`` turns a URL or a connection object into a ``Backend``."""

from __future__ import annotations

import os
import sqlite3
from typing import Any

import duckdb
import sqlalchemy as sa

from ..errors import SegmentError
from .base import Backend, Column, ForeignKey, classify_type, mask_url
from .duckdb_backend import DuckDBBackend
from .spark_backend import SparkBackend, is_spark_session, is_spark_url
from .sqlalchemy_backend import SQLAlchemyBackend
from .sqlite_backend import SQLiteBackend

__all__ = ["Backend", "Column", "ForeignKey", "classify_type", "mask_url", "open_backend"]


def open_backend(target: Any, *, create: bool = True) -> Backend:
    """A Backend for ``target``.

    - ``"duckdb:///file.duckdb"``, ``"duckdb:///:memory:"`` or a ``duckdb.DuckDBPyConnection``
    - ``"sqlite:///file.db"`` or a ``sqlite3.Connection``
    - any other SQLAlchemy URL (``postgresql://...`` uses psycopg 3) or a ``sqlalchemy.Engine``
    - Apache Spark (PySpark, ``pip install 'jupyter-segments[spark]'``): a ``pyspark.sql.SparkSession``
      (classic or Spark Connect), or a URL that starts one: ``spark://host:7077`` (a standalone
      cluster's master), ``sc://host:15002`` (Spark Connect), or a local master as Spark writes it
      (``local``, ``local[4]``, ``local[*]``); ``?database=name`` picks the database to work in
    - an object that already is a Backend is returned as is.

    ``create=False`` refuses a SQLite file that does not exist instead of creating an empty one
    (``js.connect`` passes it unless asked to create).

    Backends opened from a URL own their connection and close it in ``close()``; connection objects
    passed in stay the caller's to close.
    """
    if isinstance(target, os.PathLike):
        target = os.fspath(target)
    if isinstance(target, str):
        return _from_url(target, create)
    if isinstance(target, sqlite3.Connection):
        return SQLiteBackend(target)
    if isinstance(target, duckdb.DuckDBPyConnection):
        return DuckDBBackend(target)
    if isinstance(target, sa.Engine):
        return SQLAlchemyBackend(target)
    if is_spark_session(target):
        return SparkBackend(target, display_url="spark://(session)")
    if isinstance(target, sa.Connection):
        raise SegmentError("pass the SQLAlchemy Engine, not a Connection (engine = conn.engine)")
    if all(hasattr(target, attr) for attr in ("dialect", "query", "iter_chunks", "columns", "write_table")):
        return target
    raise SegmentError(
        f"cannot connect to a {type(target).__name__}",
        hint="pass a URL such as 'duckdb:///shop.duckdb' or 'postgresql://user@host/db', "
        "a duckdb or sqlite3 connection, a SQLAlchemy Engine or a SparkSession",
    )


def _from_url(url: str, create: bool) -> Backend:
    if is_spark_url(url):
        return SparkBackend.from_url(url)
    scheme = url.split("://", 1)[0].lower() if "://" in url else ""
    if scheme == "duckdb":
        return DuckDBBackend.from_url(url)
    if scheme == "sqlite":  # plain sqlite:// only; sqlite+pysqlcipher:// etc. go through SQLAlchemy
        return SQLiteBackend.from_url(url, create=create)
    if not scheme:
        raise SegmentError(
            f"'{url}' is not a database URL",
            hint="use e.g. duckdb:///shop.duckdb, sqlite:///shop.db or postgresql://user@host/db",
        )
    return SQLAlchemyBackend.from_url(url)
