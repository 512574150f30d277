"""Writing many rows at once: COPY on PostgreSQL, executemany elsewhere.

An import of 100,000 readers writes 300,000 rows; as INSERT statements PostgreSQL's driver
spends its time building and parsing them, COPY streams them (bench/bench_import.py).
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from typing import Any, cast

from sqlalchemy import JSON, ColumnElement, Table, any_, bindparam, insert
from sqlalchemy.dialects import postgresql
from sqlalchemy.orm import InstrumentedAttribute, Session

from digest.models import Base


def insert_rows(session: Session, model: type[Base], rows: Sequence[dict[str, Any]]) -> None:
    """Insert rows (dicts of column values, every row with the same keys) in the session's
    transaction; column defaults are not applied, so each row names every value it needs."""
    if not rows:
        return
    table = cast(Table, model.__table__)
    connection = session.connection()
    if connection.dialect.name != "postgresql":
        connection.execute(insert(table), list(rows))
        return
    from psycopg.types.json import Json

    columns = list(rows[0])
    json_columns = {name for name in columns if isinstance(table.c[name].type, JSON)}

    def value(name: str, item: object) -> object:
        if item is None:
            return None
        if name in json_columns:
            return Json(item)
        return item.value if isinstance(item, enum.Enum) else item

    cursor = connection.connection.driver_connection.cursor()  # type: ignore[union-attr]
    names = ", ".join(f'"{name}"' for name in columns)
    with cursor.copy(f'COPY "{table.name}" ({names}) FROM STDIN') as copy:
        for row in rows:
            copy.write_row([value(name, row[name]) for name in columns])


def one_of(
    session: Session, column: InstrumentedAttribute[Any], values: Sequence[Any]
) -> ColumnElement[bool]:
    """`column IN values` for thousands of values: one array parameter on PostgreSQL (the
    driver parses a statement of thousands of placeholders slowly), IN elsewhere."""
    if session.get_bind().dialect.name != "postgresql":
        return column.in_(values)
    return column == any_(bindparam(None, list(values), type_=postgresql.ARRAY(column.type)))
