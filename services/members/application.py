"""The members application: commands and queries over the event-sourced register. No nameko here."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable
from typing import Any

from services.members.domain import Member, OrgUnit, UniqueCode, admit_member, create_unit
from services.policy import policy_on
from shared.errors import Conflict, DomainError, NotFound
from shared.eventstore import ChiboApplication
from shared.i18n import term
from shared.idempotency import CommandKey


class MembersApplication(ChiboApplication):
    name = "members"

    def __init__(self, env: dict[str, str] | None = None, today: Callable[[], dt.date] = dt.date.today):
        super().__init__(env=env)
        self.today = today

    # --- commands -------------------------------------------------------------------------------------

    def create_unit(
        self,
        *,
        kind: str,
        name: str,
        code: str,
        parent_id: uuid.UUID | None,
        block: str | None,
        effective_from: dt.date,
        by: str,
        correlation_id: str | None = None,
        key: CommandKey | None = None,
    ) -> OrgUnit:
        parent = None
        if parent_id is not None:
            parent = self._unit(parent_id, field="parent_id")
        unit = create_unit(kind=kind, name=name, code=code, parent=parent, block=block,
                           effective_from=effective_from, by=by, correlation_id=correlation_id)
        self._save_with_code(unit, "unit", code, field="code", key=key)
        return unit

    def admit_member(
        self,
        *,
        code: str,
        full_name: str,
        cell_id: uuid.UUID,
        admitted_on: dt.date,
        status: str = "probationary",
        official_since: dt.date | None = None,
        born_on: dt.date | None = None,
        by: str,
        correlation_id: str | None = None,
        key: CommandKey | None = None,
    ) -> Member:
        cell = self._unit(cell_id, field="cell_id")
        member = admit_member(
            code=code, full_name=full_name, cell=cell, admitted_on=admitted_on, status=status,
            official_since=official_since, today=self.today(),
            probation_months=policy_on(admitted_on).probation_months, by=by, correlation_id=correlation_id,
            born_on=born_on,
        )
        self._save_with_code(member, "member", code, field="code", key=key)
        return member

    def exempt_member(
        self,
        *,
        member_id: uuid.UUID,
        reason: str,
        note: str = "",
        effective_from: dt.date,
        by: str,
        correlation_id: str | None = None,
        key: CommandKey | None = None,
    ) -> Member:
        member = self._member(member_id)
        member.exempt(reason=reason, note=note, effective_from=effective_from, today=self.today(), by=by,
                      correlation_id=correlation_id)
        self.record(member, key=key)
        return member

    # --- queries --------------------------------------------------------------------------------------

    def unit(self, unit_id: uuid.UUID) -> dict[str, Any]:
        u = self._unit(unit_id, field="unit_id")
        return {
            "id": str(u.id), "kind": u.kind, "name": u.name, "code": u.code,
            "parent_id": str(u.parent_id) if u.parent_id else None, "block": u.block,
            "effective_from": u.effective_from.isoformat(), "org_path": u.org_path, "version": u.version,
        }

    def member(self, member_id: uuid.UUID) -> dict[str, Any]:
        m = self._member(member_id)
        exemption = m.exemption and {**m.exemption, "effective_from": m.exemption["effective_from"].isoformat()}
        return {
            "id": str(m.id), "code": m.code, "full_name": m.full_name, "cell_id": str(m.cell_id),
            "admitted_on": m.admitted_on.isoformat(), "status": m.status,
            "official_since": m.official_since.isoformat() if m.official_since else None,
            "born_on": m.born_on.isoformat() if m.born_on else None,
            "exemption": exemption,
            "version": m.version,
        }

    # --- helpers --------------------------------------------------------------------------------------

    def _unit(self, unit_id: uuid.UUID, field: str) -> OrgUnit:
        unit = self.get_or_none(unit_id)
        if not isinstance(unit, OrgUnit):
            raise NotFound(field, f"no organisation unit {unit_id}", rule="unit.exists",
                           vi=f"không có đơn vị {unit_id}")
        return unit

    def _member(self, member_id: uuid.UUID) -> Member:
        m = self.get_or_none(member_id)
        if not isinstance(m, Member):
            raise NotFound("member_id", f"no member {member_id}", rule="member.exists",
                           vi=f"không có đảng viên {member_id}")
        return m

    def _save_with_code(self, record: Any, scope: str, code: str, field: str, key: CommandKey | None) -> None:
        claim_id = UniqueCode.id_for(scope, code)
        taken = Conflict(field, f"the {scope} code {code!r} is already used", rule=f"{scope}.code_unique",
                         vi=f"mã {term(scope)} {code!r} đã được dùng")
        if self.get_or_none(claim_id) is not None:
            raise taken
        # A concurrent claim of the same code loses the race on the claim's id: the same refusal.
        self.record(record, UniqueCode(id=claim_id, scope=scope, code=code, owner_id=record.id), key=key,
                    conflict=taken)


__all__ = ["DomainError", "MembersApplication"]
