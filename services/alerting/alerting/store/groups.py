"""Aggregation groups as stored: each group's route options and timing state, which alerts are
in it, and the instant the next group flush or escalation step is due."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import cached_property
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from alerting.domain import grouping, routing
from alerting.domain.alerts import Alert
from alerting.store.alerts import alert_of
from alerting.store.sql import jsonb, ms, recordset, ts
from pacta.db import driver_connection
from pacta.durations import datetime_to_ms, ms_to_datetime


@dataclass(frozen=True)
class RouteOptions:
    """What a group (and an escalation) keeps of its route, so a later change of the tree does
    not strand it: its timing and its time intervals."""

    route: str
    group_wait_ms: int
    group_interval_ms: int
    repeat_interval_ms: int
    mute: tuple[str, ...]
    active: tuple[str, ...]

    @classmethod
    def of_route(cls, route: routing.Route) -> RouteOptions:
        """A route's options, built once per route object (asked for every group a batch
        forms; kept by identity, the route held with them so its id is not reused)."""
        found = _OPTIONS.get(id(route))
        if found is not None and found[0] is route:
            return found[1]
        options = cls(
            route=route.path_id,
            group_wait_ms=route.seconds("group_wait") * 1000,
            group_interval_ms=route.seconds("group_interval") * 1000,
            repeat_interval_ms=route.seconds("repeat_interval") * 1000,
            mute=tuple(route.mute_time_intervals),
            active=tuple(route.active_time_intervals),
        )
        if len(_OPTIONS) >= _OPTIONS_KEPT:
            _OPTIONS.clear()  # trees replaced many times over: start again
        _OPTIONS[id(route)] = (route, options)
        return options

    @classmethod
    def of_json(cls, body: dict[str, Any]) -> RouteOptions:
        return cls(
            route=str(body["route"]),
            group_wait_ms=int(body["group_wait_ms"]),
            group_interval_ms=int(body["group_interval_ms"]),
            repeat_interval_ms=int(body["repeat_interval_ms"]),
            mute=tuple(body.get("mute", ())),
            active=tuple(body.get("active", ())),
        )

    def json(self) -> dict[str, Any]:
        """The options as stored (built once per options object; callers never change it)."""
        return self._json

    @cached_property
    def _json(self) -> dict[str, Any]:
        return {
            "route": self.route,
            "group_wait_ms": self.group_wait_ms,
            "group_interval_ms": self.group_interval_ms,
            "repeat_interval_ms": self.repeat_interval_ms,
            "mute": list(self.mute),
            "active": list(self.active),
        }

    @cached_property
    def timing(self) -> grouping.Timing:
        return grouping.Timing(self.group_wait_ms, self.group_interval_ms, self.repeat_interval_ms)


_OPTIONS: dict[int, tuple[routing.Route, RouteOptions]] = {}
_OPTIONS_KEPT = 4096


@dataclass(frozen=True)
class GroupRow:
    key: str
    receiver: str
    created_at: datetime  # part of its deliveries' idempotency keys, kept as read
    options: RouteOptions
    state: grouping.GroupState

    @classmethod
    def of(cls, row: Mapping[str, Any]) -> GroupRow:
        """A group from a driver's record of `alerting.groups`."""
        created_at = row["created_at"]
        return cls(
            key=row["key"],
            receiver=row["receiver"],
            created_at=created_at,
            options=RouteOptions.of_json(row["options"]),
            state=grouping.GroupState(
                created_at_ms=datetime_to_ms(created_at),
                next_flush_at_ms=datetime_to_ms(row["next_flush_at"]),
                first_flush_at_ms=ms(row["first_flush_at"]),
                last_sent_at_ms=ms(row["last_sent_at"]),
                notified=frozenset(row["notified"]),
                seq=row["seq"],
            ),
        )

    @classmethod
    def of_new(cls, g: NewGroup) -> GroupRow:
        """A group about to be formed, as it will be written before its first flush."""
        return cls(
            key=g.key,
            receiver=g.receiver,
            created_at=ms_to_datetime(g.created_at_ms),
            options=g.options,
            state=grouping.GroupState(
                created_at_ms=g.created_at_ms, next_flush_at_ms=g.next_flush_at_ms
            ),
        )


@dataclass(frozen=True)
class NewGroup:
    key: str
    receiver: str
    labels: dict[str, str]
    options: RouteOptions
    created_at_ms: int
    next_flush_at_ms: int


async def memberships(conn: AsyncConnection, *, alert_ids: Sequence[str]) -> dict[str, set[str]]:
    """The keys of the groups each alert is in."""
    rows = await (await driver_connection(conn)).fetch(
        "SELECT alert_id, group_key FROM alerting.group_alerts WHERE alert_id = ANY($1::text[])",
        list(alert_ids),
    )
    out: dict[str, set[str]] = {}
    for alert_id, group_key in rows:
        out.setdefault(alert_id, set()).add(group_key)
    return out


async def keys_of(conn: AsyncConnection, *, alert_id: str) -> list[str]:
    """The keys of the groups this alert is in, sorted."""
    rows = await conn.execute(
        sa.text("SELECT group_key FROM alerting.group_alerts WHERE alert_id = :a"), {"a": alert_id}
    )
    return sorted(str(r.group_key) for r in rows)


async def leave(conn: AsyncConnection, *, pairs: Sequence[tuple[str, str]]) -> None:
    """(group key, alert id) pairs: the alert leaves the group."""
    if pairs:
        await (await driver_connection(conn)).execute(
            "DELETE FROM alerting.group_alerts WHERE (group_key, alert_id) IN "
            "(SELECT * FROM unnest($1::text[], $2::text[]))",
            [g for g, _ in pairs],
            [a for _, a in pairs],
        )


def create_sql(param: int = 1) -> str:
    """The insert of `create`, its rows (`create_rows`) the parameter numbered `param`; it
    returns the key of each group formed (check them with `check_formed`)."""
    return (
        "INSERT INTO alerting.groups (key, route, receiver, labels, created_at, next_flush_at, "
        "options, first_flush_at, last_sent_at, notified, seq) SELECT key, route, receiver, "
        "labels, now, next, options, first, sent, notified, seq FROM "
        + recordset(
            "key text, route text, receiver text, labels jsonb, now timestamptz, "
            "next timestamptz, options jsonb, first timestamptz, sent timestamptz, "
            "notified text[], seq integer",
            param,
        )
        + " ORDER BY ord ON CONFLICT (key) DO NOTHING RETURNING key"
    )


_CREATE = create_sql()


class GroupFormedElsewhere(RuntimeError):
    """A group this transaction found missing was formed meanwhile by another (a second
    instance's first alert of the same group): the batch is rolled back and applied again,
    then finding the group."""


async def create(
    conn: AsyncConnection,
    *,
    groups: Sequence[NewGroup],
    states: Mapping[str, grouping.GroupState],
) -> None:
    """Form these groups, found missing by this transaction, each with its state in `states`
    (after the flush that formed it) or as formed. Raises `GroupFormedElsewhere` if one exists
    now: what the caller decided for it as new must not be written."""
    if groups:
        raw = await driver_connection(conn)
        formed = await raw.fetch(_CREATE, create_rows(groups, states))
        check_formed(groups, [r[0] for r in formed])


def create_rows(groups: Sequence[NewGroup], states: Mapping[str, grouping.GroupState]) -> str:
    """The groups of `create` as its statement takes them."""
    rows = []
    for g in groups:
        s = states.get(g.key) or grouping.GroupState(
            created_at_ms=g.created_at_ms, next_flush_at_ms=g.next_flush_at_ms
        )
        rows.append(
            {
                "key": g.key,
                "route": g.options.route,
                "receiver": g.receiver,
                "labels": g.labels,
                "now": ms_to_datetime(g.created_at_ms),
                "next": ms_to_datetime(s.next_flush_at_ms),
                "options": g.options.json(),
                "first": ts(s.first_flush_at_ms),
                "sent": ts(s.last_sent_at_ms),
                "notified": sorted(s.notified),
                "seq": s.seq,
            }
        )
    return jsonb(rows)


def check_formed(groups: Sequence[NewGroup], formed: Sequence[str]) -> None:
    """Raises `GroupFormedElsewhere` unless every one of `groups` was formed (its key among
    those `create_sql` returned)."""
    if len(formed) < len(groups):
        raise GroupFormedElsewhere(sorted({g.key for g in groups} - set(formed))[:5])


_LOCK = "SELECT * FROM alerting.groups WHERE key = ANY($1::text[]) ORDER BY key FOR UPDATE"
# the memberships `lock` writes with it, (group key, alert id) pairs in `$2`
_JOIN_AND_LOCK = (
    "WITH j AS (INSERT INTO alerting.group_alerts (group_key, alert_id) SELECT k, a FROM "
    + recordset("k text, a text", 2)
    + " ORDER BY ord ON CONFLICT DO NOTHING) "
    + _LOCK
)


async def lock(
    conn: AsyncConnection, *, keys: Sequence[str], joining: Sequence[tuple[str, str]] = ()
) -> list[GroupRow]:
    """These groups, locked for this transaction (in key order: a stable lock order). With
    `joining`, those (group key, alert id) pairs are written as memberships (the alert is in
    the group) by the same statement: a round trip fewer, nothing read them before."""
    raw = await driver_connection(conn)
    if joining:
        pairs = jsonb([{"k": k, "a": a} for k, a in joining])
        rows = await raw.fetch(_JOIN_AND_LOCK, list(keys), pairs)
    else:
        rows = await raw.fetch(_LOCK, list(keys))
    return [GroupRow.of(r) for r in rows]


async def due(
    conn: AsyncConnection, *, now_ms: int, keys: Sequence[str] | None, limit: int
) -> list[GroupRow]:
    """Groups due at `now_ms` (only `keys` if given), locked; those another transaction holds
    are skipped."""
    where = "next_flush_at <= $1" + (" AND key = ANY($3::text[])" if keys is not None else "")
    args: list[Any] = [ms_to_datetime(now_ms), limit] + ([list(keys)] if keys is not None else [])
    rows = await (await driver_connection(conn)).fetch(
        f"SELECT * FROM alerting.groups WHERE {where} ORDER BY next_flush_at "
        "LIMIT $2 FOR UPDATE SKIP LOCKED",
        *args,
    )
    return [GroupRow.of(r) for r in rows]


async def members(
    conn: AsyncConnection, *, keys: Sequence[str], known: Mapping[str, Alert] | None = None
) -> dict[str, list[Alert]]:
    """The alerts of each group, oldest first. `known` are alerts as the caller's transaction
    changed them (written or not yet): those are not read back (nor their signals parsed
    again), only the others."""
    known = known or {}
    raw = await driver_connection(conn)
    rows = await raw.fetch(
        "SELECT group_key, alert_id FROM alerting.group_alerts WHERE group_key = ANY($1::text[])",
        list(keys),
    )
    wanted = sorted({alert_id for _, alert_id in rows if alert_id not in known})
    read: dict[str, Alert] = {}
    if wanted:
        found = await raw.fetch("SELECT * FROM alerting.alerts WHERE id = ANY($1::text[])", wanted)
        read = {r["id"]: alert_of(r) for r in found}
    out: dict[str, list[Alert]] = {}
    for group_key, alert_id in rows:
        alert = known.get(alert_id) or read.get(alert_id)
        if alert is not None:
            out.setdefault(group_key, []).append(alert)
    for alerts in out.values():
        alerts.sort(key=lambda a: (a.fired_at_ms, a.id))
    return out


async def move_next_flush(conn: AsyncConnection, *, moves: Sequence[tuple[str, int]]) -> None:
    """(group key, instant) pairs: the group's next flush is then."""
    if moves:
        await (await driver_connection(conn)).execute(
            "UPDATE alerting.groups g SET next_flush_at = x.n FROM "
            + recordset("k text, n timestamptz")
            + " WHERE g.key = x.k",
            jsonb([{"n": ms_to_datetime(at), "k": k} for k, at in moves]),
        )


_SAVE_STATES = (
    "UPDATE alerting.groups g SET next_flush_at = x.next, first_flush_at = x.first, "
    "last_sent_at = x.sent, notified = x.notified, seq = x.seq FROM "
    + recordset(
        "k text, next timestamptz, first timestamptz, sent timestamptz, notified text[], "
        "seq integer"
    )
    + " WHERE g.key = x.k"
)


async def save_states(
    conn: AsyncConnection, *, states: Sequence[tuple[str, grouping.GroupState]]
) -> None:
    """(group key, state) pairs: each group's timing after its flush."""
    if states:
        rows = [
            {
                "next": ms_to_datetime(s.next_flush_at_ms),
                "first": ts(s.first_flush_at_ms),
                "sent": ts(s.last_sent_at_ms),
                "notified": sorted(s.notified),
                "seq": s.seq,
                "k": key,
            }
            for key, s in states
        ]
        await (await driver_connection(conn)).execute(_SAVE_STATES, jsonb(rows))


async def end(conn: AsyncConnection, *, keys: Sequence[str]) -> None:
    """These groups are empty: they and their memberships go."""
    if keys:
        raw = await driver_connection(conn)
        await raw.execute("DELETE FROM alerting.groups WHERE key = ANY($1::text[])", list(keys))
        await raw.execute(
            "DELETE FROM alerting.group_alerts WHERE group_key = ANY($1::text[])", list(keys)
        )


async def wake_held_by(conn: AsyncConnection, *, silence_ids: Sequence[str]) -> None:
    """The groups of the alerts these silences matched flush now."""
    await conn.execute(
        sa.text(
            "UPDATE alerting.groups SET next_flush_at = LEAST(next_flush_at, now()) WHERE key IN "
            "(SELECT g.group_key FROM alerting.group_alerts g JOIN alerting.silences s "
            "ON g.alert_id = ANY(s.matched) WHERE s.id = ANY(:ids))"
        ),
        {"ids": list(silence_ids)},
    )


async def next_due_ms(conn: AsyncConnection) -> int | None:
    """The earliest instant a group flush or an escalation step is due; None if none is."""
    row = (
        await conn.execute(
            sa.text(
                "SELECT LEAST((SELECT min(next_flush_at) FROM alerting.groups), "
                "(SELECT min(next_at) FROM alerting.escalations WHERE active))"
            )
        )
    ).scalar()
    return datetime_to_ms(row) if row is not None else None
