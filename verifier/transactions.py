"""SQLite write transactions that commit whole or roll back, for every database here.

The gate's two state files, and the hub's file, are opened with ``isolation_level=None``
(autocommit) so that the code, not the driver, says where a transaction begins and ends;
these two helpers are those beginnings and ends.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def file_transaction(conn: sqlite3.Connection, schema: str) -> Iterator[sqlite3.Connection]:
    """A write transaction on one file of a connection with another attached.

    ``BEGIN IMMEDIATE`` would lock every attached file. Instead a deferred transaction
    starts with a write that changes nothing to ``schema``, which takes that file's
    write lock (waiting for it up to the busy timeout) and no other; the other file is
    then read from a snapshot and never locked.
    """
    conn.execute("BEGIN")
    try:
        conn.execute(f"UPDATE {schema}.meta SET value = value WHERE 0")
        yield conn
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")


@contextmanager
def immediate_transaction(conn: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    """``BEGIN IMMEDIATE`` ... ``COMMIT``, or ``ROLLBACK`` on any exception: the write
    lock is taken up front, so a transaction never fails half-way for want of it."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield conn
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")


@contextmanager
def savepoint(conn: sqlite3.Connection, name: str) -> Iterator[sqlite3.Connection]:
    """A savepoint inside the caller's transaction: released when the block succeeds,
    rolled back to (and released) on any exception, so the work done before it in the
    transaction stays and none of the block's does."""
    conn.execute(f"SAVEPOINT {name}")
    try:
        yield conn
    except BaseException:
        conn.execute(f"ROLLBACK TO {name}")
        conn.execute(f"RELEASE {name}")
        raise
    conn.execute(f"RELEASE {name}")
