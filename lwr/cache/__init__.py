"""Experimental server-side cache of client input files (spec §8).

A client asks ``cache_required(ip, path)``; only the first caller for a given
``(ip, path)`` gets ``True`` and is expected to upload the file with
``cache_stream``.  Jobs then copy cached files by token.  Which tokens have
been claimed is kept in a small SQLite database inside ``cache_dir`` so claims
survive restarts and are shared safely between threads (and processes).
"""
import hashlib
import logging
import os
import re
import sqlite3
import threading
import time
from contextlib import closing

from lwr.lwr_client.util import ReplacingFile

__all__ = ["Cache", "CHUNK_SIZE", "token_for"]

log = logging.getLogger(__name__)

#: Bytes per read while streaming an upload into the cache.
CHUNK_SIZE = 1024 * 1024
DATABASE_NAME = "cache.sqlite3"
_TOKEN_RE = re.compile(r"[0-9a-f]{64}")


def token_for(ip: str, path: str) -> str:
    """The cache token of a client file: ``sha256("IP:<ip>:<path>")`` in hex (wire-compatible)."""
    key = "IP:%s:%s" % (ip, path)
    return hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()


class Cache:
    """Files cached under ``<cache_dir>/<token>``; claims recorded in ``<cache_dir>/cache.sqlite3``."""

    def __init__(self, cache_dir: str):
        self.cache_directory = os.path.abspath(cache_dir)
        os.makedirs(self.cache_directory, exist_ok=True)
        self._database = os.path.join(self.cache_directory, DATABASE_NAME)
        # sqlite serialises writers itself; the lock only avoids "database is locked" retries
        # between threads of this process.
        self._lock = threading.Lock()
        with self._connect() as connection:
            connection.execute(
                "CREATE TABLE IF NOT EXISTS claims ("
                " token TEXT PRIMARY KEY, ip TEXT, path TEXT, claimed_at REAL)")

    def _connect(self):
        return _Transaction(sqlite3.connect(self._database, timeout=30))

    # -- claims -------------------------------------------------------------------------------
    def cache_required(self, ip: str, path: str) -> bool:
        """True iff this call is the first to claim ``(ip, path)``: the caller must upload it."""
        token = token_for(ip, path)
        with self._lock, self._connect() as connection:
            cursor = connection.execute(
                "INSERT OR IGNORE INTO claims (token, ip, path, claimed_at) VALUES (?, ?, ?, ?)",
                (token, str(ip), str(path), time.time()))
            return cursor.rowcount == 1

    def _release(self, token: str) -> None:
        """Forget a claim whose upload failed so a later caller is asked to upload again."""
        with self._lock, self._connect() as connection:
            connection.execute("DELETE FROM claims WHERE token = ?", (token,))

    def _record(self, token: str, ip: str, path: str) -> None:
        with self._lock, self._connect() as connection:
            connection.execute(
                "INSERT OR IGNORE INTO claims (token, ip, path, claimed_at) VALUES (?, ?, ?, ?)",
                (token, str(ip), str(path), time.time()))

    # -- contents -----------------------------------------------------------------------------
    def file_available(self, ip: str, path: str) -> dict:
        """``{"token": ..., "ready": bool}``; ready once the file is completely in the cache."""
        token = token_for(ip, path)
        return {"token": token, "ready": os.path.exists(self.destination(token))}

    def cache_stream(self, stream, ip: str, path: str) -> str:
        """Copy a readable binary ``stream`` into the cache atomically; return the cached path.

        The body goes to ``<token>_TMP<random>`` first and is renamed onto
        ``<token>`` only once complete, so readers never see a partial file.
        """
        token = token_for(ip, path)
        destination = self.destination(token)
        try:
            with ReplacingFile(destination, prefix=token + "_TMP", suffix="", fsync=True) as handle:
                while True:
                    chunk = stream.read(CHUNK_SIZE)
                    if not chunk:
                        break
                    handle.write(chunk)
        except BaseException:
            if not os.path.exists(destination):
                self._release(token)
            raise
        self._record(token, ip, path)
        return destination

    def cache_file(self, local_path: str, ip: str, path: str) -> str:
        """Move an already written file into the cache (0.2.0's ``cache_file``)."""
        token = token_for(ip, path)
        destination = self.destination(token)
        tmp = "%s_TMP%s" % (destination, os.urandom(8).hex())
        try:
            os.replace(local_path, tmp)
        except OSError:  # another file system: copy instead
            with open(local_path, "rb") as source:
                return self.cache_stream(source, ip, path)
        os.replace(tmp, destination)
        self._record(token, ip, path)
        return destination

    def destination(self, token: str) -> str:
        """Path of a cached file; raises ``ValueError`` unless ``token`` is 64 lowercase hex digits."""
        if not isinstance(token, str) or not _TOKEN_RE.fullmatch(token):
            raise ValueError("cache token must be 64 hexadecimal digits")
        return os.path.join(self.cache_directory, token)


class _Transaction:
    """Commit (or roll back) and always close an sqlite3 connection."""

    def __init__(self, connection):
        self.connection = connection

    def __enter__(self):
        return self.connection

    def __exit__(self, exc_type, exc, tb):
        with closing(self.connection):
            if exc_type is None:
                self.connection.commit()
            else:
                self.connection.rollback()
        return False
