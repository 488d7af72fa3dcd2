"""The members nameko service: a thin HTTP adapter over MembersApplication, plus its outbox relay."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

from pydantic import BaseModel

from services.members import schemas as s
from services.members.application import MembersApplication
from services.members.integration import translate
from services.members.register_upload import import_request
from shared import openapi
from shared.access import principal
from shared.auth import POLICY, authorize
from shared.errors import DomainError
from shared.nameko_ext import Application, EmbeddedRelay, chibo_settings
from shared.readiness import Readiness, live_response, ready_response
from shared.relay import EnvelopeReader
from shared.stores import TrackedStore, event_store_env
from shared.web import (
    command_response,
    correlation_id,
    http,
    json_response,
    metrics_response,
    notifications_response,
    ops_http,
    query_date,
    query_uuid,
)

READ, WRITE = "members:read", "members:write"


class MembersApp(Application):
    """The members application with its read model (a TrackedStore in the service's own database)."""

    def __init__(self) -> None:
        super().__init__(MembersApplication)

    def setup(self) -> None:
        settings = chibo_settings(self.container)
        name = self.container.service_name
        self.views_store = TrackedStore(settings.store, name, name="views")
        self.app = MembersApplication(event_store_env(settings.store, name), views_store=self.views_store)

    def stop(self) -> None:
        super().stop()
        self.views_store.close()


class MembersService:
    name = "members"

    app: MembersApplication = MembersApp()
    relay: Any = EmbeddedRelay(translate)
    readiness: Any = Readiness()

    def _command(self, request: Any, model: type[BaseModel], command: Callable[..., Any],
                 show: Callable[[Any], Any], reach: Callable[[Any], list[list[str]]], status: int = 200,
                 **path: Any) -> Any:
        """A register command; `reach(cmd)` gives the paths of every unit it touches, each of which the caller
        must be allowed to write."""

        def guard(cmd: Any) -> None:
            for unit_path in reach(cmd):
                authorize(principal(request), WRITE, unit_path=unit_path)

        return command_response(self.app, request, model, command, show, guard=guard, after=self.relay.nudge,
                                status=status, **path)

    def _read(self, request: Any, unit_path: list[str]) -> None:
        authorize(principal(request), READ, unit_path=unit_path)

    def _unit_arg(self, request: Any, name: str) -> uuid.UUID | None:
        """`?name=<unit>`, defaulting to the caller's own unit when the caller's reach is not the whole city."""
        given = query_uuid(request, name)
        caller = principal(request)
        if given is None and not POLICY[caller.role].city_wide:
            return uuid.UUID(caller.unit_id) if caller.unit_id else None
        return given

    # --- the tree -------------------------------------------------------------------------------------

    @http("POST", "/members/units", body=s.CreateUnit, action=WRITE)
    def create_unit(self, request: Any) -> Any:
        return self._command(request, s.CreateUnit, self.app.create_unit, self.app.unit,
                             lambda c: [self.app.unit_path(c.parent_id)], status=201)

    @http("GET", "/members/units/<uuid:unit_id>", action=READ)
    def get_unit(self, request: Any, unit_id: uuid.UUID) -> Any:
        self._read(request, self.app.unit_path(unit_id))
        return self.app.unit(unit_id)

    @http("POST", "/members/units/<uuid:unit_id>/rename", body=s.RenameUnit, action=WRITE)
    def rename_unit(self, request: Any, unit_id: uuid.UUID) -> Any:
        return self._command(request, s.RenameUnit, self.app.rename_unit, self.app.unit,
                             lambda c: [self.app.unit_path(unit_id)], unit_id=unit_id)

    @http("POST", "/members/units/<uuid:unit_id>/move", body=s.MoveUnit, action=WRITE)
    def move_unit(self, request: Any, unit_id: uuid.UUID) -> Any:
        return self._command(request, s.MoveUnit, self.app.move_unit, self.app.unit,
                             lambda c: [self.app.unit_path(unit_id), self.app.unit_path(c.new_parent_id)],
                             unit_id=unit_id)

    @http("POST", "/members/units/merge", body=s.MergeUnits, action=WRITE)
    def merge_units(self, request: Any) -> Any:
        return self._command(request, s.MergeUnits, self.app.merge_units, self.app.unit,
                             lambda c: [self.app.unit_path(u) for u in [*c.source_ids, c.target_id]])

    @http("POST", "/members/units/<uuid:unit_id>/dissolve", body=s.DissolveUnit, action=WRITE)
    def dissolve_unit(self, request: Any, unit_id: uuid.UUID) -> Any:
        return self._command(request, s.DissolveUnit, self.app.dissolve_unit, self.app.unit,
                             lambda c: [self.app.unit_path(unit_id)], unit_id=unit_id)

    @http("GET", "/members/units/<uuid:unit_id>/history", action=READ)
    def unit_history(self, request: Any, unit_id: uuid.UUID) -> Any:
        self._read(request, self.app.unit_path(unit_id))
        return self.app.unit_history(unit_id)

    @http("GET", "/members/units/<uuid:unit_id>/children", action=READ)
    def units_under(self, request: Any, unit_id: uuid.UUID) -> Any:
        self._read(request, self.app.unit_path(unit_id))
        depth = request.args.get("depth", "1")
        if depth not in ("1", "all"):
            raise DomainError("depth", "must be 1 or all", rule="query.depth", vi="phải là 1 hoặc all")
        return self.app.units_under(unit_id, query_date(request, default=self.app.today()), all_depths=depth == "all")

    @http("GET", "/members/tree", action=READ)
    def tree(self, request: Any) -> Any:
        """The tree on `?date=`, from `?root=` (default: the whole city, or the caller's own unit)."""
        root = self._unit_arg(request, "root")
        if root is not None:
            self._read(request, self.app.unit_path(root))
        return self.app.tree(query_date(request, default=self.app.today()), root)

    @http("GET", "/members/cells/<uuid:cell_id>/roster", action=READ)
    def roster(self, request: Any, cell_id: uuid.UUID) -> Any:
        self._read(request, self.app.unit_path(cell_id))
        return self.app.roster(cell_id, query_date(request, default=self.app.today()))

    @http("GET", "/members/cells/health", action=READ)
    def cell_health(self, request: Any) -> Any:
        unit = self._unit_arg(request, "unit")
        if unit is not None:
            self._read(request, self.app.unit_path(unit))
        return self.app.cell_health(unit, query_date(request, default=self.app.today()))

    # --- the register ---------------------------------------------------------------------------------

    @http("POST", "/members/members", body=s.AdmitMember, action=WRITE)
    def admit_member(self, request: Any) -> Any:
        return self._command(request, s.AdmitMember, self.app.admit_member, self.app.member,
                             lambda c: [self.app.unit_path(c.cell_id)], status=201)

    @http("GET", "/members/members/<uuid:member_id>", action=READ)
    def get_member(self, request: Any, member_id: uuid.UUID) -> Any:
        self._read(request, self.app.member_path(member_id))
        return self.app.member(member_id)

    @http("POST", "/members/imports", action=WRITE)
    def import_register(self, request: Any) -> Any:
        """A ward's register from a spreadsheet: a dry run by default, `dry_run=false` to apply."""
        answer = import_request(self.app, request, correlation_id(request), by=principal(request).subject,
                                guard=lambda ward: authorize(principal(request), WRITE,
                                                             unit_path=self.app.unit_path(ward.id)))
        self.relay.nudge()
        return answer

    @http("GET", "/members/members/<uuid:member_id>/history", action=READ)
    def member_history(self, request: Any, member_id: uuid.UUID) -> Any:
        self._read(request, self.app.member_path(member_id))
        return self.app.member_history(member_id)

    @http("POST", "/members/members/<uuid:member_id>/confirm", body=s.ConfirmMember, action=WRITE)
    def confirm_member(self, request: Any, member_id: uuid.UUID) -> Any:
        return self._command(request, s.ConfirmMember, self.app.confirm_member, self.app.member,
                             self._member_reach(member_id), member_id=member_id)

    @http("POST", "/members/members/<uuid:member_id>/exempt", body=s.ExemptMember, action=WRITE)
    def exempt_member(self, request: Any, member_id: uuid.UUID) -> Any:
        return self._command(request, s.ExemptMember, self.app.exempt_member, self.app.member,
                             self._member_reach(member_id), member_id=member_id)

    @http("POST", "/members/members/<uuid:member_id>/lift-exemption", body=s.LiftExemption, action=WRITE)
    def lift_exemption(self, request: Any, member_id: uuid.UUID) -> Any:
        return self._command(request, s.LiftExemption, self.app.lift_exemption, self.app.member,
                             self._member_reach(member_id), member_id=member_id)

    @http("POST", "/members/members/<uuid:member_id>/transfer", body=s.TransferMember, action=WRITE)
    def transfer_member(self, request: Any, member_id: uuid.UUID) -> Any:
        return self._command(request, s.TransferMember, self.app.transfer_member, self.app.member,
                             lambda c: [self.app.member_path(member_id), self.app.unit_path(c.to_cell_id)],
                             member_id=member_id)

    @http("POST", "/members/members/<uuid:member_id>/end-temporary-transfer", body=s.EndTemporaryTransfer, action=WRITE)
    def end_temporary_transfer(self, request: Any, member_id: uuid.UUID) -> Any:
        return self._command(request, s.EndTemporaryTransfer, self.app.end_temporary_transfer, self.app.member,
                             self._member_reach(member_id), member_id=member_id)

    @http("POST", "/members/members/<uuid:member_id>/remove", body=s.RemoveMember, action=WRITE)
    def remove_member(self, request: Any, member_id: uuid.UUID) -> Any:
        return self._command(request, s.RemoveMember, self.app.remove_member, self.app.member,
                             self._member_reach(member_id), member_id=member_id)

    def _member_reach(self, member_id: uuid.UUID) -> Callable[[Any], list[list[str]]]:
        return lambda cmd: [self.app.member_path(member_id)]

    # --- supervision ----------------------------------------------------------------------------------

    def _supervision(self, cell_id: uuid.UUID) -> Any:
        return self.app.supervisors(cell_id, self.app.today())

    @http("POST", "/members/supervisors", body=s.Supervision, action=WRITE)
    def assign_supervisor(self, request: Any) -> Any:
        return self._command(request, s.Supervision, self.app.assign_supervisor, self._supervision,
                             lambda c: [self.app.unit_path(c.cell_id)], status=201)

    @http("POST", "/members/supervisors/unassign", body=s.Supervision, action=WRITE)
    def unassign_supervisor(self, request: Any) -> Any:
        return self._command(request, s.Supervision, self.app.unassign_supervisor, self._supervision,
                             lambda c: [self.app.unit_path(c.cell_id)])

    @http("GET", "/members/cells/<uuid:cell_id>/supervisors", action=READ)
    def supervisors(self, request: Any, cell_id: uuid.UUID) -> Any:
        self._read(request, self.app.unit_path(cell_id))
        return self.app.supervisors(cell_id, query_date(request, default=self.app.today()))

    # --- plumbing -------------------------------------------------------------------------------------

    @http("GET", "/members/notifications", action="feed:read")
    def notifications(self, request: Any) -> Any:
        return notifications_response(EnvelopeReader(self.name, self.app, translate), request)

    @http("GET", "/members/openapi.json", action="api:read")
    def openapi(self, request: Any) -> Any:
        """This service's OpenAPI 3.1 document, generated from its routes and request models."""
        return openapi.document(type(self), title="chibo members")

    def _health(self) -> dict[str, Any]:
        return {"service": self.name, "status": "ok", **self.readiness.report(self.app.recorder.max_notification_id)}

    @ops_http("GET", "/members/health")
    def health(self, request: Any) -> Any:
        return json_response(self._health())

    @ops_http("GET", "/members/ready")
    def ready(self, request: Any) -> Any:
        return ready_response(self._health())

    @ops_http("GET", "/members/live")
    def live(self, request: Any) -> Any:
        return live_response(self.name)

    @ops_http("GET", "/members/metrics")
    def metrics(self, request: Any) -> Any:
        return metrics_response()
