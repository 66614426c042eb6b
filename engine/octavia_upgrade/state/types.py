"""Column types that behave the same on SQLite, PostgreSQL and MySQL/MariaDB.

* :class:`UTCDateTime` stores naive UTC with microseconds (MySQL's DATETIME
  drops fractions unless asked) and always hands back aware UTC datetimes.
* :class:`JSONText` stores JSON as text (LONGTEXT on MySQL, where TEXT stops at
  64 KB): MariaDB's JSON is an alias with its own quirks, and text round-trips
  identically everywhere.

MySQL's types are imported only when a MySQL/MariaDB database is used: the
dialect package costs about 10 ms at every start, and most installations
use SQLite.
"""

from __future__ import annotations

import json
from datetime import datetime, timezone
from typing import Any

from sqlalchemy import DateTime, Text
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator, TypeEngine

_MYSQL = ("mysql", "mariadb")


def __getattr__(name: str) -> TypeEngine[Any]:
    """``DATETIME`` and ``LONGTEXT``: the plain types the migrations use.

    Kept in step with the decorators below; built on first use so that
    importing this module does not import MySQL's dialect.
    """
    if name not in ("DATETIME", "LONGTEXT"):
        # Also answers the import system's own probes (``__path__``, ...).
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    from sqlalchemy.dialects import mysql

    if name == "DATETIME":
        return DateTime().with_variant(mysql.DATETIME(fsp=6), *_MYSQL)
    return Text().with_variant(mysql.LONGTEXT(), *_MYSQL)


class UTCDateTime(TypeDecorator[datetime]):
    impl = DateTime
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        if dialect.name in _MYSQL:
            from sqlalchemy.dialects import mysql

            return mysql.DATETIME(fsp=6)
        return DateTime()

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the state database; use UTC-aware times")
        return value.astimezone(timezone.utc).replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        return None if value is None else value.replace(tzinfo=timezone.utc)


class JSONText(TypeDecorator[Any]):
    impl = Text
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        if dialect.name in _MYSQL:
            from sqlalchemy.dialects import mysql

            return mysql.LONGTEXT()
        # Not dialect.type_descriptor(): psycopg adapts Text to a String that
        # renders as VARCHAR, which alembic's drift check then reports.
        return Text()

    def process_bind_param(self, value: Any, dialect: Dialect) -> str | None:
        return None if value is None else json.dumps(value, sort_keys=True, default=str)

    def process_result_value(self, value: str | None, dialect: Dialect) -> Any:
        return None if value is None else json.loads(value)
