"""The members nameko service: a thin HTTP adapter over MembersApplication, plus its outbox relay."""

from __future__ import annotations

import uuid
from typing import Any

from services.members.application import MembersApplication
from services.members.integration import translate
from services.members.register_import import import_request
from services.members.schemas import AdmitMember, CreateUnit
from shared.idempotency import CommandKey
from shared.nameko_ext import Application, EmbeddedRelay
from shared.relay import EnvelopeReader
from shared.web import (
    correlation_id,
    http,
    idempotent,
    json_response,
    metrics_response,
    notifications_response,
    parse_body,
)


class MembersService:
    name = "members"

    app: MembersApplication = Application(MembersApplication)
    relay: Any = EmbeddedRelay(translate)

    @http("POST", "/members/units")
    def create_unit(self, request: Any) -> Any:
        cmd = parse_body(CreateUnit, request)

        def run(key: CommandKey | None) -> Any:
            unit = self.app.create_unit(**cmd.model_dump(exclude={"recorded_by"}), by=cmd.recorded_by,
                                        correlation_id=correlation_id(request), key=key)
            self.relay.nudge()
            return unit.id

        return idempotent(self.app, request, cmd, run, self.app.unit)

    @http("GET", "/members/units/<uuid:unit_id>")
    def get_unit(self, request: Any, unit_id: uuid.UUID) -> Any:
        return self.app.unit(unit_id)

    @http("POST", "/members/members")
    def admit_member(self, request: Any) -> Any:
        cmd = parse_body(AdmitMember, request)

        def run(key: CommandKey | None) -> Any:
            member = self.app.admit_member(**cmd.model_dump(exclude={"recorded_by"}), by=cmd.recorded_by,
                                           correlation_id=correlation_id(request), key=key)
            self.relay.nudge()
            return member.id

        return idempotent(self.app, request, cmd, run, self.app.member)

    @http("GET", "/members/members/<uuid:member_id>")
    def get_member(self, request: Any, member_id: uuid.UUID) -> Any:
        return self.app.member(member_id)

    @http("POST", "/members/imports")
    def import_register(self, request: Any) -> Any:
        """A ward's register from a spreadsheet: a dry run by default, `dry_run=false` to apply."""
        answer = import_request(self.app, request, correlation_id(request))
        self.relay.nudge()
        return answer

    @http("GET", "/members/notifications")
    def notifications(self, request: Any) -> Any:
        return notifications_response(EnvelopeReader(self.name, self.app, translate), request)

    @http("GET", "/members/health")
    def health(self, request: Any) -> Any:
        return json_response({"service": self.name, "status": "ok"})

    @http("GET", "/members/metrics")
    def metrics(self, request: Any) -> Any:
        return metrics_response()
