"""The reporting nameko service: tracked consumers of members and meetings, and the compliance queries."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from services.reporting.compliance import cell_month
from shared.errors import DomainError, NotFound
from shared.nameko_ext import TrackedViews, tracked_consumer
from shared.web import http, json_response, metrics_response


class ReportingService:
    name = "reporting"

    views: Any = TrackedViews(cell_month.DDL, cell_month.project)

    @tracked_consumer("members")
    def on_members_event(self, envelope: Any, payload: Any) -> None:
        self.views.apply(envelope, payload)

    @tracked_consumer("meetings")
    def on_meetings_event(self, envelope: Any, payload: Any) -> None:
        self.views.apply(envelope, payload)

    @http("GET", "/reporting/compliance/cell-months")
    def cell_months(self, request: Any) -> Any:
        """?from=YYYY-MM&to=YYYY-MM&unit=<unit id>: per cell and month, meeting held and attendance."""
        this_month = dt.date.today().strftime("%Y-%m")
        first = cell_month.parse_month("from", request.args.get("from"), this_month[:4] + "-01")
        last = cell_month.parse_month("to", request.args.get("to"), this_month)
        if last < first:
            raise DomainError("to", "must not be before from", rule="period.order",
                              vi="tháng kết thúc không được trước tháng bắt đầu")
        if last > this_month:
            raise DomainError("to", "is in the future", rule="period.not_future", vi="là tháng trong tương lai")
        unit = request.args.get("unit")
        with self.views.store.read() as sql:
            if unit is not None:
                try:
                    uuid.UUID(unit)
                except ValueError:
                    raise DomainError("unit", f"must be a unit id, not {unit!r}",
                                      vi=f"phải là mã định danh đơn vị, không phải {unit!r}") from None
                if sql.execute("SELECT 1 FROM units WHERE unit_id = ?", (unit,)).fetchone() is None:
                    raise NotFound("unit", f"no unit {unit} is known to reporting",
                                   vi=f"dịch vụ báo cáo chưa biết đơn vị {unit}")
            rows = cell_month.cell_months(sql, first, last, under=unit)
        return {"from": first, "to": last, "unit": unit, "rows": cell_month.as_json(rows),
                "positions": self._positions()}

    def _positions(self) -> dict[str, int]:
        return {s: self.views.store.position(s) for s in ("members", "meetings")}

    @http("GET", "/reporting/health")
    def health(self, request: Any) -> Any:
        return json_response({"service": self.name, "status": "ok", "positions": self._positions()})

    @http("GET", "/reporting/metrics")
    def metrics(self, request: Any) -> Any:
        return metrics_response()
