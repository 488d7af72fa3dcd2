"""The members application: commands and queries over the event-sourced register. No nameko here.

Commands load the aggregates they change, let them apply their rules, and save everything the command
changed in one transaction (`record`): a refusal records nothing, a concurrent change of the same aggregate
loses with 409. Queries that enumerate units or members read the service's own read model (views.py),
brought up to date from the notification log first; histories come straight from the aggregates' events.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable, Mapping
from typing import Any, ClassVar

from services.members.domain import (
    Member,
    OrgUnit,
    UniqueCode,
    UnitGuard,
    admit_member,
    create_unit,
)
from services.members.views import MembersViews
from services.policy import policy_on
from shared.errors import Conflict, DomainError, NotFound
from shared.eventstore import ChiboApplication, check_version
from shared.i18n import term
from shared.idempotency import CommandKey
from shared.relay import EnvelopeReader
from shared.stores import TrackedStore


def _named(who: str, exc: DomainError) -> DomainError:
    """The same refusal, saying which of several records (a member or unit of a merge) it is about."""
    return type(exc)(exc.field, f"{who}: {exc.message}", rule=exc.rule, vi=f"{who}: {exc.vi or exc.message}")


class MembersApplication(ChiboApplication):
    name = "members"
    # Sealed in the store with the member's own key (shared/pii.py); the published MemberAdmitted carries the
    # sealed name, and the date of birth is never published.
    personal_fields: ClassVar[Mapping[str, Mapping[str, str]]] = {
        "Member.Admitted": {"full_name": "originator_id", "born_on": "originator_id"}}

    def __init__(self, env: dict[str, str] | None = None, today: Callable[[], dt.date] = dt.date.today,
                 views_store: TrackedStore | None = None):
        super().__init__(env=env)
        self.today = today
        self._views: MembersViews | None = None
        if views_store is not None:
            from services.members.integration import translate

            self._views = MembersViews(views_store, EnvelopeReader(self.name, self, translate))

    @property
    def views(self) -> MembersViews:
        """The read model, caught up with every event stored so far (the caller reads its own writes)."""
        if self._views is None:
            raise RuntimeError("MembersApplication was created without a views_store: no read model to query")
        self._views.catch_up()
        return self._views

    # --- the tree -------------------------------------------------------------------------------------

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
        # The guard is read before the unit it guards, so a merge or dissolution saved in between is seen.
        guards = [self._guard(parent_id)] if parent_id is not None else []
        parent = None
        if parent_id is not None:
            parent = self._unit(parent_id, field="parent_id")
        unit = create_unit(kind=kind, name=name, code=code, parent=parent, block=block,
                           effective_from=effective_from, by=by, correlation_id=correlation_id,
                           parent_path=self._path(parent) if parent is not None else None)
        self._save_with_code(unit, "unit", code, field="code", key=key, guards=guards)
        return unit

    def rename_unit(self, *, unit_id: uuid.UUID, name: str, effective_from: dt.date,
                    expected_version: int | None = None, by: str, correlation_id: str | None = None,
                    key: CommandKey | None = None) -> OrgUnit:
        unit = self._unit(unit_id, field="unit_id")
        check_version(unit, expected_version)
        unit.rename(name=name, effective_from=effective_from, today=self.today(), org_path=self._path(unit),
                    by=by, correlation_id=correlation_id)
        self.record(unit, key=key)
        return unit

    def move_unit(self, *, unit_id: uuid.UUID, new_parent_id: uuid.UUID, effective_from: dt.date,
                  expected_version: int | None = None, by: str, correlation_id: str | None = None,
                  key: CommandKey | None = None) -> OrgUnit:
        unit = self._unit(unit_id, field="unit_id")
        check_version(unit, expected_version)
        guard = self._guard(new_parent_id)
        parent = self._unit(new_parent_id, field="new_parent_id")
        unit.move(new_parent=parent, effective_from=effective_from, today=self.today(), get_unit=self._unit_or_none,
                  org_path=[*self._path(parent), str(unit.id)], by=by, correlation_id=correlation_id)
        self.record(guard, unit, key=key, result_id=unit.id)
        return unit

    def merge_units(self, *, source_ids: list[uuid.UUID], target_id: uuid.UUID, effective_from: dt.date, by: str,
                    correlation_id: str | None = None, key: CommandKey | None = None) -> OrgUnit:
        """Merge units (cells; or wards/communes) into `target_id` from `effective_from`.

        In the same transaction: each member of a source cell is transferred (officially, reason "merge") to
        the target, and each unit under a source is moved under the target; any of them refusing (a change
        recorded after the merge date, say) refuses the whole merge.
        """
        target = self._unit(target_id, field="target_id")
        sources = [self._unit(i, field="source_ids") for i in source_ids]
        guards = [self._guard(source.id) for source in sources]  # before reading who is in them (see UnitGuard)
        views = self.views
        today = self.today()
        target_path = self._path(target)
        target.absorb(sources=sources, effective_from=effective_from, today=today,
                      ancestors=[uuid.UUID(p) for p in target_path[:-1]], org_path=target_path, by=by,
                      correlation_id=correlation_id)
        changed: list[Any] = []
        for source in sources:
            hosted = views.hosted_from(str(source.id), effective_from)
            if hosted:
                raise DomainError("source_ids", f"{source.code} hosts {len(hosted)} member(s) temporarily on or after "
                                  "that date: end or move those temporary transfers first", rule="unit.hosts_temporary",
                                  vi=f"{source.code} đang có {len(hosted)} đảng viên sinh hoạt tạm thời từ ngày đó: "
                                     "hãy kết thúc hoặc chuyển trước")
            for member_id in views.members_from(str(source.id), effective_from):
                member = self._member(uuid.UUID(member_id), field="source_ids")
                try:
                    member.transfer(to_cell=target, kind="official", effective_from=effective_from, until=None,
                                    today=today, org_path=target_path, by=by, correlation_id=correlation_id,
                                    reason="merge")
                except DomainError as exc:
                    raise _named(f"{source.code}, {member.full_name} ({member.code})", exc) from None
                changed.append(member)
            for child_id in views.open_children(str(source.id)):
                child = self._unit(uuid.UUID(child_id), field="source_ids")
                try:
                    child.move(new_parent=target, effective_from=effective_from, today=today,
                               get_unit=self._unit_or_none, org_path=[*target_path, str(child.id)], by=by,
                               correlation_id=correlation_id, field="target_id")
                except DomainError as exc:
                    raise _named(f"{source.code}, {child.code}", exc) from None
                changed.append(child)
            source.merge_into(target=target, effective_from=effective_from, today=today,
                              org_path=self._path(source), by=by, correlation_id=correlation_id)
        # Transfers and moves first, then the merge itself: a consumer sees the sources emptied before they end.
        self.record(*guards, *changed, *sources, target, key=key, result_id=target.id)
        return target

    def dissolve_unit(self, *, unit_id: uuid.UUID, reason: str, effective_from: dt.date, by: str,
                      correlation_id: str | None = None, key: CommandKey | None = None) -> OrgUnit:
        """Dissolve a unit (any kind). Refused while members or units still belong to it on or after the date."""
        unit = self._unit(unit_id, field="unit_id")
        guard = self._guard(unit.id)  # before reading what is in it (see UnitGuard)
        views = self.views
        unit.dissolve(reason=reason, effective_from=effective_from, today=self.today(), org_path=self._path(unit),
                      by=by, correlation_id=correlation_id)
        members = views.members_from(str(unit.id), effective_from) + views.hosted_from(str(unit.id), effective_from)
        children = views.open_children(str(unit.id))
        if members or children:
            raise DomainError("unit_id", f"{unit.code} still has {len(members)} member(s) and {len(children)} unit(s) "
                              "on or after that date: transfer, move or merge them first", rule="unit.not_empty",
                              vi=f"{unit.code} vẫn còn {len(members)} đảng viên và {len(children)} đơn vị trực thuộc "
                                 "từ ngày đó: hãy chuyển hoặc hợp nhất trước")
        self.record(guard, unit, key=key, result_id=unit.id)
        return unit

    # --- the register ---------------------------------------------------------------------------------

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
        guard = self._guard(cell_id)
        cell = self._unit(cell_id, field="cell_id")
        member = admit_member(
            code=code, full_name=full_name, cell=cell, admitted_on=admitted_on, status=status,
            official_since=official_since, today=self.today(),
            probation_months=policy_on(admitted_on).probation_months, by=by, correlation_id=correlation_id,
            born_on=born_on, cell_path=self._path(cell),
        )
        self._save_with_code(member, "member", code, field="code", key=key, guards=[guard])
        return member

    def confirm_member(self, *, member_id: uuid.UUID, official_since: dt.date, override_reason: str | None = None,
                       expected_version: int | None = None, by: str, correlation_id: str | None = None,
                       key: CommandKey | None = None) -> Member:
        member = self._member(member_id)
        check_version(member, expected_version)
        member.confirm(official_since=official_since, override_reason=override_reason,
                       probation_months=policy_on(member.admitted_on).probation_months, today=self.today(),
                       org_path=self._member_path(member), by=by, correlation_id=correlation_id)
        self.record(member, key=key)
        return member

    def exempt_member(self, *, member_id: uuid.UUID, reason: str, note: str, effective_from: dt.date,
                      expected_version: int | None = None, by: str, correlation_id: str | None = None,
                      key: CommandKey | None = None) -> Member:
        member = self._member(member_id)
        check_version(member, expected_version)
        member.exempt(reason=reason, note=note, effective_from=effective_from, today=self.today(),
                      org_path=self._member_path(member), by=by, correlation_id=correlation_id)
        self.record(member, key=key)
        return member

    def lift_exemption(self, *, member_id: uuid.UUID, effective_from: dt.date, expected_version: int | None = None,
                       by: str, correlation_id: str | None = None, key: CommandKey | None = None) -> Member:
        member = self._member(member_id)
        check_version(member, expected_version)
        member.lift_exemption(effective_from=effective_from, today=self.today(), org_path=self._member_path(member),
                              by=by, correlation_id=correlation_id)
        self.record(member, key=key)
        return member

    def transfer_member(self, *, member_id: uuid.UUID, to_cell_id: uuid.UUID, kind: str, effective_from: dt.date,
                        until: dt.date | None = None, expected_version: int | None = None, by: str,
                        correlation_id: str | None = None, key: CommandKey | None = None) -> Member:
        member = self._member(member_id)
        check_version(member, expected_version)
        guard = self._guard(to_cell_id)
        to_cell = self._unit(to_cell_id, field="to_cell_id")
        home = to_cell if kind == "official" else self._unit(member.cell_id, field="member_id")
        member.transfer(to_cell=to_cell, kind=kind, effective_from=effective_from, until=until, today=self.today(),
                        org_path=self._path(home), by=by, correlation_id=correlation_id)
        self.record(guard, member, key=key, result_id=member.id)
        return member

    def end_temporary_transfer(self, *, member_id: uuid.UUID, effective_from: dt.date,
                               expected_version: int | None = None, by: str, correlation_id: str | None = None,
                               key: CommandKey | None = None) -> Member:
        member = self._member(member_id)
        check_version(member, expected_version)
        member.end_temporary_transfer(effective_from=effective_from, today=self.today(),
                                      org_path=self._member_path(member), by=by, correlation_id=correlation_id)
        self.record(member, key=key)
        return member

    def remove_member(self, *, member_id: uuid.UUID, reason: str, note: str, effective_from: dt.date,
                      expected_version: int | None = None, by: str, correlation_id: str | None = None,
                      key: CommandKey | None = None) -> Member:
        member = self._member(member_id)
        check_version(member, expected_version)
        today = self.today()
        member.remove(reason=reason, note=note, effective_from=effective_from, today=today,
                      org_path=self._member_path(member), by=by, correlation_id=correlation_id)
        # A member who leaves the register stops following cells, in the same transaction.
        cells = []
        for cell_id in self.views.supervised_by(str(member.id)):
            cell = self._unit(uuid.UUID(cell_id), field="member_id")
            try:
                cell.unassign_supervisor(supervisor_id=member.id, effective_from=effective_from, today=today,
                                         org_path=self._path(cell), by=by, correlation_id=correlation_id)
            except DomainError as exc:
                raise _named(f"{member.full_name}, {cell.code}", exc) from None
            cells.append(cell)
        self.record(member, *cells, key=key)
        return member

    # --- supervision ----------------------------------------------------------------------------------

    def assign_supervisor(self, *, supervisor_id: uuid.UUID, cell_id: uuid.UUID, effective_from: dt.date, by: str,
                          correlation_id: str | None = None, key: CommandKey | None = None) -> OrgUnit:
        cell = self._unit(cell_id, field="cell_id")
        supervisor = self._member(supervisor_id, field="supervisor_id")
        cell.assign_supervisor(supervisor=supervisor, effective_from=effective_from, today=self.today(),
                               org_path=self._path(cell), by=by, correlation_id=correlation_id)
        self.record(cell, key=key)
        return cell

    def unassign_supervisor(self, *, supervisor_id: uuid.UUID, cell_id: uuid.UUID, effective_from: dt.date,
                            by: str, correlation_id: str | None = None, key: CommandKey | None = None) -> OrgUnit:
        cell = self._unit(cell_id, field="cell_id")
        cell.unassign_supervisor(supervisor_id=supervisor_id, effective_from=effective_from, today=self.today(),
                                 org_path=self._path(cell), by=by, correlation_id=correlation_id)
        self.record(cell, key=key)
        return cell

    # --- lookups --------------------------------------------------------------------------------------

    def unit_by_code(self, code: str) -> OrgUnit | None:
        return self._by_code("unit", code, OrgUnit)

    def member_by_code(self, code: str) -> Member | None:
        return self._by_code("member", code, Member)

    def _by_code(self, scope: str, code: str, cls: type) -> Any:
        claim = self.get_or_none(UniqueCode.id_for(scope, code))
        if not isinstance(claim, UniqueCode):
            return None
        record = self.get_or_none(claim.owner_id)
        return record if isinstance(record, cls) else None

    # --- queries --------------------------------------------------------------------------------------

    def unit(self, unit_id: uuid.UUID) -> dict[str, Any]:
        u = self._unit(unit_id, field="unit_id")
        return {
            "id": str(u.id), "kind": u.kind, "name": u.name, "code": u.code,
            "parent_id": str(u.parent_id) if u.parent_id else None, "block": u.block,
            "effective_from": u.effective_from.isoformat(), "org_path": self._path(u), "version": u.version,
            "ended_on": u.ended_on.isoformat() if u.ended_on else None, "end_reason": u.end_reason,
            "merged_into": str(u.merged_into) if u.merged_into else None,
        }

    def member(self, member_id: uuid.UUID) -> dict[str, Any]:
        m = self._member(member_id)
        today = self.today()
        away = m.temporary_on(today)
        return {
            "id": str(m.id), "code": m.code, "full_name": m.full_name, "cell_id": str(m.cell_id),
            "admitted_on": m.admitted_on.isoformat(), "status": m.status,
            "official_since": m.official_since.isoformat() if m.official_since else None,
            "born_on": m.born_on.isoformat() if m.born_on else None,
            "active": m.removal is None,
            "exemption": _dates(m.exemption),
            "temporarily_in": _dates(away),
            "temporary_transfers": [_dates(t) for t in m.temporaries],
            "removal": _dates(m.removal),
            "version": m.version,
        }

    def unit_history(self, unit_id: uuid.UUID) -> dict[str, Any]:
        unit = self._unit(unit_id, field="unit_id")
        return {"unit_id": str(unit.id), "code": unit.code, "events": self.event_history(unit.id)}

    def member_history(self, member_id: uuid.UUID) -> dict[str, Any]:
        member = self._member(member_id)
        return {"member_id": str(member.id), "code": member.code, "events": self.event_history(member.id)}

    def tree(self, day: dt.date, root: uuid.UUID | None = None) -> dict[str, Any]:
        if root is not None:
            self._unit(root, field="root")
        return {"date": day.isoformat(), "units": self.views.tree(day, str(root) if root else None)}

    def units_under(self, unit_id: uuid.UUID, day: dt.date, all_depths: bool = False) -> dict[str, Any]:
        self._unit(unit_id, field="unit_id")
        return {"unit_id": str(unit_id), "date": day.isoformat(),
                "units": self.views.under(str(unit_id), day, all_depths)}

    def roster(self, cell_id: uuid.UUID, day: dt.date) -> dict[str, Any]:
        cell = self._cell(cell_id)
        members = _by_name(self.reveal(self.views.roster(str(cell.id), day)))
        counts: dict[str, int] = {}
        for entry in members:
            counts[entry["status"]] = counts.get(entry["status"], 0) + 1
        return {"cell_id": str(cell.id), "code": cell.code, "name": cell.name_on(day) or cell.name,
                "date": day.isoformat(), "exists": cell.exists_on(day), "counts": counts, "members": members}

    def supervisors(self, cell_id: uuid.UUID, day: dt.date) -> dict[str, Any]:
        cell = self._cell(cell_id)
        return {"cell_id": str(cell.id), "date": day.isoformat(),
                "supervisors": _by_name(self.reveal(self.views.supervisors(str(cell.id), day)))}

    def cell_health(self, unit_id: uuid.UUID | None, day: dt.date) -> dict[str, Any]:
        """Cells under `unit_id` (or all) on `day`: official members, merger candidates, cells needing a committee.

        Official members are counted in each cell's register (exempted or temporarily away included).
        """
        if unit_id is not None:
            self._unit(unit_id, field="unit")
        policy = policy_on(day)
        views = self.views
        cells = views.cells_under(str(unit_id) if unit_id else None, day)
        counts = views.official_counts([c["id"] for c in cells], day)
        rows = []
        for c in sorted(cells, key=lambda c: (c["code"], c["id"])):
            n = counts[c["id"]]
            rows.append({"cell_id": c["id"], "code": c["code"], "name": c["name"], "official_members": n,
                         "merger_candidate": n < policy.min_official_members,
                         "needs_committee": n >= policy.committee_official_members})
        return {
            "unit_id": str(unit_id) if unit_id else None, "date": day.isoformat(), "policy_version": policy.version,
            "min_official_members": policy.min_official_members,
            "committee_official_members": policy.committee_official_members,
            "cells": rows,
            "merger_candidates": [r["cell_id"] for r in rows if r["merger_candidate"]],
            "committee_cells": [r["cell_id"] for r in rows if r["needs_committee"]],
        }

    # --- personal data --------------------------------------------------------------------------------

    def erase_member(self, *, member_id: uuid.UUID, by: str, reason: str, guest: bool = False) -> dict[str, Any]:
        """Crypto-shred a person: destroy their key, so their name and date of birth become unreadable in
        every store, replica, report and export, while the records, counts and audit chain stay.

        `guest`: the id is a meeting guest's, not a member's (no member check). Returns the tombstone.
        """
        if not reason.strip():
            raise DomainError("reason", "an erasure needs a reason", rule="erase.reason", vi="cần nêu lý do xóa")
        if not guest:
            self._member(member_id)
        if self.pii is None:
            raise RuntimeError("this members application has no key store (an in-memory test store)")
        self.pii.shred(member_id, by=by, reason=reason.strip())
        tombstone = self.pii.tombstone(member_id)
        assert tombstone is not None
        return tombstone

    def get_or_none(self, aggregate_id: Any) -> Any:
        """The aggregate, a member with their personal fields opened (or the erasure placeholder)."""
        found = super().get_or_none(aggregate_id)
        if isinstance(found, Member) and self.pii is not None:
            found.full_name = self.pii.unseal(found.full_name)
            if isinstance(found.born_on, str):  # sealed: its ISO text, or None once erased
                born = self.pii.unseal(found.born_on, placeholder=None)
                found.born_on = dt.date.fromisoformat(born) if born else None
        return found

    # --- reach: where a unit or a member sits, for access control ----------------------------------------

    def unit_path(self, unit_id: uuid.UUID | None) -> list[str]:
        """The unit's path from the root (ids), as the tree stands now; [] for an unknown unit (which only a
        city-wide role may then be told is unknown)."""
        unit = self._unit_or_none(unit_id) if unit_id is not None else None
        return self._path(unit) if unit is not None else []

    def member_path(self, member_id: uuid.UUID) -> list[str]:
        """The path of the member's home cell now; [] for an unknown member."""
        member = self.get_or_none(member_id)
        return self._member_path(member) if isinstance(member, Member) else []

    # --- helpers --------------------------------------------------------------------------------------

    def _unit_or_none(self, unit_id: uuid.UUID) -> OrgUnit | None:
        unit = self.get_or_none(unit_id)
        return unit if isinstance(unit, OrgUnit) else None

    def _unit(self, unit_id: uuid.UUID, field: str) -> OrgUnit:
        unit = self._unit_or_none(unit_id)
        if unit is None:
            raise NotFound(field, f"no organisation unit {unit_id}", rule="unit.exists",
                           vi=f"không có đơn vị {unit_id}")
        return unit

    def _cell(self, cell_id: uuid.UUID) -> OrgUnit:
        cell = self._unit(cell_id, field="cell_id")
        if not cell.is_cell:
            raise DomainError("cell_id", f"this unit is a {cell.kind}, not a cell", rule="unit.not_a_cell",
                              vi=f"đơn vị này là {term(cell.kind)}, không phải chi bộ")
        return cell

    def _member(self, member_id: uuid.UUID, field: str = "member_id") -> Member:
        member = self.get_or_none(member_id)
        if not isinstance(member, Member):
            raise NotFound(field, f"no member {member_id}", rule="member.exists",
                           vi=f"không có đảng viên {member_id}")
        return member

    def _path(self, unit: OrgUnit) -> list[str]:
        """The unit's path in the tree as it stands now (root first): a move of an ancestor changes it."""
        path = [str(unit.id)]
        current: OrgUnit | None = unit
        while current is not None and current.parent_id is not None and str(current.parent_id) not in path:
            path.append(str(current.parent_id))
            current = self._unit_or_none(current.parent_id)
        return path[::-1]

    def _member_path(self, member: Member) -> list[str]:
        cell = self._unit_or_none(member.cell_id)
        return self._path(cell) if cell is not None else list(member.org_path)

    def _guard(self, unit_id: uuid.UUID) -> UnitGuard:
        """The unit's guard, moved to a new version (see UnitGuard): save it with the command.

        Read it before the unit itself, and before the read model: whatever was saved after it makes the
        command lose with 409.
        """
        guard = self.get_or_none(UnitGuard.id_for(unit_id))
        if guard is None:
            return UnitGuard(id=UnitGuard.id_for(unit_id))
        guard.touch()
        return guard

    def _save_with_code(self, record: Any, scope: str, code: str, field: str, key: CommandKey | None,
                        guards: list[UnitGuard]) -> None:
        claim_id = UniqueCode.id_for(scope, code)
        taken = Conflict(field, f"the {scope} code {code!r} is already used", rule=f"{scope}.code_unique",
                         vi=f"mã {term(scope)} {code!r} đã được dùng")
        if self.get_or_none(claim_id) is not None:
            raise taken
        try:
            self.record(*guards, record, UniqueCode(id=claim_id, scope=scope, code=code, owner_id=record.id), key=key,
                        result_id=record.id)
        except Conflict:
            # A concurrent claim of the same code: say so; otherwise the unit changed meanwhile (409 as is).
            if self.get_or_none(claim_id) is not None:
                raise taken from None
            raise


def _by_name(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Sorted by the opened name, as before sealing (the read model holds sealed ones, whose order means nothing)."""
    return sorted(rows, key=lambda r: (r["full_name"], r.get("member_id") or r.get("supervisor_id")))


def _dates(value: dict[str, Any] | None) -> dict[str, Any] | None:
    if value is None:
        return None
    return {k: v.isoformat() if isinstance(v, dt.date) else str(v) if isinstance(v, uuid.UUID) else v
            for k, v in value.items()}


__all__ = ["DomainError", "MembersApplication"]
