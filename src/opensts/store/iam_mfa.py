"""Virtual MFA devices: TOTP seeds sealed under the master key, assignment to users, and the
newest accepted TOTP step (the one-time-use rule shared by every process and node).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, delete, func, insert, or_, select, update
from sqlalchemy.exc import IntegrityError

from opensts.store import schema, tags as entity_tags
from opensts.store.errors import CodeReplayed, DeviceExists, DeviceInUse, NoSuchDevice, TooManyDevices
from opensts.store.meta import CountedWrites
from opensts.tokens.master_key import MasterKey

SEED_PURPOSE = "totp-seed"
MFA_TAG_TYPE = entity_tags.MFA
MAX_DEVICES_PER_USER = 8  # AWS allows up to eight MFA devices per user


@dataclass(frozen=True, slots=True)
class UserRef:
    user_id: str
    name: str
    path: str
    created_at: datetime


@dataclass(frozen=True, slots=True)
class MfaDeviceRecord:
    serial_number: str
    account_id: str
    name: str
    path: str
    user_id: str | None
    enabled_at: datetime | None
    created_at: datetime
    last_used_step: int | None
    user: UserRef | None = None  # filled by the listing queries for assigned devices


def _device_query():
    mfa, users = schema.mfa_devices, schema.users
    return select(
        mfa.c.serial_number, mfa.c.account_id, mfa.c.name, mfa.c.path, mfa.c.user_id, mfa.c.enabled_at,
        mfa.c.created_at, mfa.c.last_used_step,
        users.c.name.label("user_name"), users.c.path.label("user_path"), users.c.created_at.label("user_created_at"),
    ).select_from(mfa.outerjoin(users, mfa.c.user_id == users.c.user_id))


def _record(row) -> MfaDeviceRecord:
    user = None
    if row.user_id is not None and row.user_name is not None:
        user = UserRef(row.user_id, row.user_name, row.user_path, row.user_created_at)
    return MfaDeviceRecord(
        row.serial_number, row.account_id, row.name, row.path, row.user_id, row.enabled_at, row.created_at,
        row.last_used_step, user,
    )


class MfaRepository:
    def __init__(self, engine: CountedWrites, master_key: MasterKey) -> None:
        self._engine = engine
        self._master_key = master_key

    # --- writes --------------------------------------------------------------------------------
    def create(
        self,
        serial_number: str,
        account_id: str,
        name: str,
        path: str,
        seed_base32: str,
        tags: list[tuple[str, str]],
        now: datetime,
    ) -> MfaDeviceRecord:
        table = schema.mfa_devices
        sealed = self._master_key.seal(seed_base32.encode("ascii"), SEED_PURPOSE)
        try:
            with self._engine.begin() as conn:
                taken = conn.execute(
                    select(table.c.serial_number).where(
                        table.c.account_id == account_id,
                        func.lower(table.c.serial_number) == serial_number.lower(),
                    )
                ).first()
                if taken is not None:
                    raise DeviceExists(serial_number)
                conn.execute(
                    insert(table).values(
                        serial_number=serial_number, account_id=account_id, name=name, path=path,
                        seed_sealed=sealed, created_at=now,
                    )
                )
                entity_tags.tag_new_entity(conn, MFA_TAG_TYPE, serial_number, tags)
        except IntegrityError:
            raise DeviceExists(serial_number) from None
        return MfaDeviceRecord(serial_number, account_id, name, path, None, None, now, None)

    def enable(self, serial_number: str, user_id: str, first_step: int, accepted_step: int, now: datetime) -> None:
        """Assign the device to the user, recording ``accepted_step`` as used.

        Fails (NoSuchDevice, DeviceInUse, TooManyDevices, CodeReplayed) without changing anything.
        """
        table = schema.mfa_devices
        with self._engine.begin() as conn:
            _check_unassigned(conn, serial_number)
            count = conn.execute(
                select(func.count()).select_from(table).where(table.c.user_id == user_id)
            ).scalar_one()
            if count >= MAX_DEVICES_PER_USER:
                raise TooManyDevices(count)
            result = conn.execute(
                update(table)
                .where(
                    table.c.serial_number == serial_number,
                    table.c.user_id.is_(None),
                    or_(table.c.last_used_step.is_(None), table.c.last_used_step < first_step),
                )
                .values(user_id=user_id, enabled_at=now, last_used_step=accepted_step)
            )
            if result.rowcount == 0:
                # Someone else enabled it, or used these codes, between our read and this write.
                raise CodeReplayed(serial_number)

    def resync(self, serial_number: str, user_id: str, first_step: int, accepted_step: int) -> None:
        table = schema.mfa_devices
        with self._engine.begin() as conn:
            result = conn.execute(
                update(table)
                .where(
                    table.c.serial_number == serial_number,
                    table.c.user_id == user_id,
                    or_(table.c.last_used_step.is_(None), table.c.last_used_step < first_step),
                )
                .values(last_used_step=accepted_step)
            )
            if result.rowcount == 0:
                raise CodeReplayed(serial_number)

    def record_step(self, serial_number: str, step: int) -> bool:
        """Compare-and-set the newest accepted step: False if ``step`` (or a newer one) was
        already recorded, i.e. the code is a replay."""
        table = schema.mfa_devices
        with self._engine.begin_uncounted() as conn:
            result = conn.execute(
                update(table)
                .where(
                    table.c.serial_number == serial_number,
                    or_(table.c.last_used_step.is_(None), table.c.last_used_step < step),
                )
                .values(last_used_step=step)
            )
        return result.rowcount == 1

    def deactivate(self, serial_number: str, user_id: str) -> None:
        table = schema.mfa_devices
        with self._engine.begin() as conn:
            result = conn.execute(
                update(table)
                .where(table.c.serial_number == serial_number, table.c.user_id == user_id)
                .values(user_id=None, enabled_at=None)
            )
            if result.rowcount == 0:
                raise NoSuchDevice(serial_number)

    def delete(self, serial_number: str) -> None:
        table = schema.mfa_devices
        with self._engine.begin() as conn:
            _check_unassigned(conn, serial_number)
            conn.execute(delete(table).where(table.c.serial_number == serial_number, table.c.user_id.is_(None)))
            entity_tags.drop_tags(conn, MFA_TAG_TYPE, serial_number)

    def tag(self, serial_number: str, tags: list[tuple[str, str]]) -> None:
        """Add or overwrite the device's tags; NoSuchDevice, TooManyTags."""
        with self._engine.begin() as conn:
            if not entity_tags.tag_entity(conn, MFA_TAG_TYPE, serial_number, tags):
                raise NoSuchDevice(serial_number)

    def untag(self, serial_number: str, keys: list[str]) -> None:
        with self._engine.begin() as conn:
            if not entity_tags.untag_entity(conn, MFA_TAG_TYPE, serial_number, keys):
                raise NoSuchDevice(serial_number)

    # --- reads ---------------------------------------------------------------------------------
    def get(self, serial_number: str) -> MfaDeviceRecord | None:
        with self._engine.connect() as conn:
            row = conn.execute(_device_query().where(schema.mfa_devices.c.serial_number == serial_number)).first()
        return _record(row) if row else None

    def seed(self, serial_number: str) -> str | None:
        """The device's base32 seed, opened (only TOTP checks need it)."""
        table = schema.mfa_devices
        with self._engine.connect() as conn:
            row = conn.execute(select(table.c.seed_sealed).where(table.c.serial_number == serial_number)).first()
        if row is None:
            return None
        return self._master_key.open(row.seed_sealed, SEED_PURPOSE).decode("ascii")

    def for_user(self, user_id: str) -> list[MfaDeviceRecord]:
        table = schema.mfa_devices
        with self._engine.connect() as conn:
            rows = conn.execute(_device_query().where(table.c.user_id == user_id).order_by(table.c.serial_number)).all()
        return [_record(r) for r in rows]

    def list_virtual(self, account_id: str, assignment: str = "Any") -> list[MfaDeviceRecord]:
        table = schema.mfa_devices
        query = _device_query().where(table.c.account_id == account_id)
        if assignment == "Assigned":
            query = query.where(table.c.user_id.is_not(None))
        elif assignment == "Unassigned":
            query = query.where(table.c.user_id.is_(None))
        with self._engine.connect() as conn:
            rows = conn.execute(query.order_by(table.c.serial_number)).all()
        return [_record(r) for r in rows]

    def tags(self, serial_number: str) -> list[tuple[str, str]]:
        with self._engine.connect() as conn:
            return entity_tags.read_tags(conn, MFA_TAG_TYPE, serial_number)

    def tags_for(self, serial_numbers: list[str]) -> dict[str, list[tuple[str, str]]]:
        if not serial_numbers:
            return {}
        with self._engine.connect() as conn:
            return entity_tags.read_tags_of(conn, MFA_TAG_TYPE, serial_numbers)

    def counts(self, account_id: str) -> tuple[int, int]:
        """(devices, devices in use) of the account."""
        table = schema.mfa_devices
        with self._engine.connect() as conn:
            total = conn.execute(
                select(func.count()).select_from(table).where(table.c.account_id == account_id)
            ).scalar_one()
            in_use = conn.execute(
                select(func.count()).select_from(table).where(table.c.account_id == account_id, table.c.user_id.is_not(None))
            ).scalar_one()
        return total, in_use


def _check_unassigned(conn: Connection, serial_number: str) -> None:
    """NoSuchDevice if there is no such device, DeviceInUse if it is assigned to a user."""
    table = schema.mfa_devices
    row = conn.execute(select(table.c.user_id).where(table.c.serial_number == serial_number)).first()
    if row is None:
        raise NoSuchDevice(serial_number)
    if row.user_id is not None:
        raise DeviceInUse(serial_number)
