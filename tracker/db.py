"""Declarative base: a naming convention for stable migrations, enums stored by value."""

import enum
import time
from datetime import UTC, datetime

import sqlalchemy as sa
from sqlalchemy.orm import DeclarativeBase

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = sa.MetaData(naming_convention=NAMING_CONVENTION)


def enum_column(enum_cls: type[enum.Enum], name: str) -> sa.Enum:
    """A VARCHAR + CHECK constraint holding the enum's values (not its names)."""
    return sa.Enum(
        enum_cls,
        name=name,
        native_enum=False,
        create_constraint=True,
        length=max(len(m.value) for m in enum_cls),
        values_callable=lambda cls: [m.value for m in cls],
        validate_strings=True,
    )


def utcnow() -> datetime:
    """Naive UTC, so SQLite and PostgreSQL store and return the same value."""
    return datetime.now(UTC).replace(tzinfo=None)


PING_AFTER_IDLE = 1.0  # seconds a pooled connection may sit unused and still be trusted


def ping_idle_connections(engine: sa.Engine) -> None:
    """Check a pooled connection before use only when it sat idle: one that served a
    request a moment ago is alive, and a ping on every checkout (pool_pre_ping) is a round
    trip on every request to PostgreSQL. A connection the server dropped while it was idle
    (a restart, a failover) is replaced before anyone uses it."""

    @sa.event.listens_for(engine, "checkin")
    def _idle_from(_dbapi_connection, record):
        record.info["idle_since"] = time.monotonic()

    @sa.event.listens_for(engine, "checkout")
    def _ping_if_idle(dbapi_connection, record, _proxy):
        idle_since = record.info.get("idle_since")
        if idle_since is None or time.monotonic() - idle_since < PING_AFTER_IDLE:
            return
        try:
            engine.dialect.do_ping(dbapi_connection)
        except Exception as exc:  # noqa: BLE001 — whatever the driver says, it is gone
            # The pool discards it and checks out a fresh connection.
            raise sa.exc.DisconnectionError(str(exc)) from exc
