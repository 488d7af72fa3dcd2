"""`chibo`: run the platform.

    chibo demo [--ward] [--no-serve] embedded: all services in one process, a sample district (or, with
                                     --ward, its ward alone), a year of meetings, the tables
    chibo run SERVICE                one service as its own process (distributed run, config.yml)
    chibo relay SOURCE               one outbox relay as its own process
    chibo declare                    declare exchanges and queues on the broker (deploy step)
    chibo cluster [--demo]           the distributed run as local processes (make cluster)
    chibo import-register FILE --ward CODE [--apply]
                                     check (or import) a ward's register from an XLSX/CSV file
    chibo replay [--as-of DATE | --known-at INSTANT] [--embedded]
                                     rebuild reporting from the logs; compare with the live store (exit 1
                                     on a difference), or report as of a date from a separate store
    chibo token issue --user NAME --role ROLE [--unit UNIT_ID] [--ttl 8h]
                                     issue an access token (printed); chibo token revoke JTI
    chibo user add --user NAME --role ROLE [--unit UNIT_ID]
                                     a person's web sign-in (password from the terminal or CHIBO_USER_PASSWORD)
    chibo apikey create --name NAME --scope ACTION [--scope ...] [--role ROLE] [--unit UNIT_ID]
                                     a machine client's API key (printed once); chibo apikey revoke KEY_ID
    chibo member erase MEMBER_ID --reason TEXT --by NAME [--guest] [--embedded --data-dir DIR]
                                     erase a person's personal data (crypto-shredding: their key is
                                     destroyed; names read "[đã xóa]" everywhere, counts stay)
    chibo deadletters list|show|redrive [--consumer C] [--source S] [--position N | --index I | --all]
                                     the dead-letter queues: list, inspect, re-drive (RabbitMQ directly)
    chibo generate --scale ward|district|city|nation --seed N [--check]
                                     a synthetic year in the services' stores, with the figures it
                                     must give (--check: rebuild reporting and compare)
    chibo audit checkpoint|verify [--service members|meetings|all] [--embedded --data-dir DIR]
                                     tamper evidence: record the event stores' hash-chain heads, or
                                     recompute them (exit 1 naming the first tampered position)
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
import threading
from typing import Any


def _stop_on_signal() -> threading.Event:
    """An event set by Ctrl-C or SIGTERM."""
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    return stop


def _wait_for_signal() -> None:
    stop = _stop_on_signal()
    while not stop.wait(1.0):
        pass


def cmd_run(args: argparse.Namespace) -> int:
    import logging.config

    from nameko.runners import ServiceRunner

    from services.runner import service_class, service_config
    from shared import topology

    config = service_config(args.service) if args.config is None else _load(args.config)
    if "LOGGING" in config:
        logging.config.dictConfig(config["LOGGING"])
    topology.declare_for(args.service, config.get("AMQP_URI", ""))  # its own exchange and queues only
    runner = ServiceRunner(config)
    runner.add_service(service_class(args.service))
    runner.start()
    print(f"{args.service} serving on {config['WEB_SERVER_ADDRESS']}", flush=True)
    stop = _stop_on_signal()
    try:
        while not stop.wait(1.0):
            if any(c._died.ready() for c in runner.containers):  # a crashed container: exit, be restarted
                print(f"{args.service}: the service container died; exiting", file=sys.stderr, flush=True)
                return 1
    finally:
        runner.stop()
    return 0


def _load(path: str) -> dict:
    from shared.config import load_config

    return load_config(path)


def cmd_relay(args: argparse.Namespace) -> int:
    from services.runner import service_config, writer_parts
    from shared.config import settings_from
    from shared.relay import EnvelopeReader, OutboxRelay, Publisher
    from shared.stores import TrackedStore, event_store_env

    logging.basicConfig(level=os.environ.get("LOG_LEVEL", "INFO"), format="%(asctime)s %(name)s %(message)s")
    config = service_config(args.source) if args.config is None else _load(args.config)
    settings = settings_from(config)
    app_class, translate = writer_parts(args.source)
    app = app_class(event_store_env(settings.store, args.source))
    after_publish = None
    if os.environ.get("CHIBO_FAULT_CRASH_AFTER_PUBLISH"):  # fault injection (tests): die before recording
        def after_publish() -> None:
            os._exit(70)
    relay = OutboxRelay(EnvelopeReader(args.source, app, translate), Publisher(settings.amqp_uri, args.source),
                        TrackedStore(settings.store, args.source, name="relay"), after_publish=after_publish)
    metrics_at = (config.get("CHIBO") or {}).get("relay_ops_address")
    from shared.metrics import record_build_info

    record_build_info()
    if metrics_at:  # the relay's own operator port: /metrics (backlog, position, events published)
        from prometheus_client import start_http_server

        host, port = str(metrics_at).rsplit(":", 1)
        try:
            start_http_server(int(port), addr=host)
        except OSError as exc:  # a standby beside the active relay on one host: serve without metrics
            print(f"relay {args.source}: no metrics on {metrics_at}: {exc}", flush=True)
    stop = _stop_on_signal()
    print(f"relay {args.source}: waiting for the single-active lock", flush=True)
    relay.run_guarded(settings.store, stop, poll=settings.poll_interval,
                      on_active=lambda: print(f"relay {args.source}: active", flush=True))
    app.close()
    return 0


def cmd_declare(args: argparse.Namespace) -> int:
    from shared import topology

    if args.definitions:  # write the broker's definitions (topology, per-service users) instead of declaring
        import json

        from shared import definitions

        try:
            document = definitions.definitions(args.vhost, definitions.passwords_from_env(), prefix=args.user_prefix)
        except ValueError as exc:
            print(f"chibo declare: {exc} (đặt CHIBO_AMQP_PASSWORD_MEMBERS/_MEETINGS/_REPORTING và "
                  "CHIBO_AMQP_ADMIN_PASSWORD / set them)", file=sys.stderr)
            return 2
        text = json.dumps(document, indent=2, ensure_ascii=False)
        if args.definitions == "-":
            print(text)
        else:
            from pathlib import Path

            path = Path(args.definitions)
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text + "\n", encoding="utf-8")
            path.chmod(0o644)  # read by the broker's own user; holds salted hashes only
            print(f"wrote {path}: vhost {args.vhost}, users " + ", ".join(u["name"] for u in document["users"]))
        return 0
    uri = args.amqp_uri or os.environ.get("AMQP_URI", "pyamqp://guest:guest@127.0.0.1:5672/")
    for name in topology.declare_all(uri):
        print(f"declared {name}")
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    import datetime as dt
    import shutil

    from services.demo import WARD_NAME, build_district, build_ward, format_summary, format_table
    from services.demo_users import demo_users, format_users
    from services.reporting.compliance.wording import format_rollup
    from services.runner import EmbeddedPlatform, embedded_config
    from shared.auth import Role, auth_settings
    from shared.config import settings_from

    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s %(message)s")
    logging.getLogger("nameko").setLevel(logging.ERROR)  # refused commands are answers, not news
    shutil.rmtree(args.data_dir, ignore_errors=True)
    config = embedded_config(args.data_dir, port=args.port, ops_port=args.ops_port)
    platform = EmbeddedPlatform(config).start()
    try:
        client = platform.client(platform.api_key("demo-loader"))  # a machine key: the sample data's loader
        year = args.year or dt.date.today().year - 1
        vi = args.lang == "vi"
        what = ("huyện mẫu" if vi else "the sample district") if args.scope == "district" else (
            "phường mẫu" if vi else "the sample ward")
        print(f"Ghi dữ liệu {what} qua HTTP API ({platform.base_url}) ..." if vi
              else f"Recording {what} through the HTTP APIs ({platform.base_url}) ...", flush=True)
        if args.scope == "district":
            district = build_district(client, year, seed=args.seed)
            result, top = district.ward, district.district_id
            commands, events, seconds = district.commands, district.events, district.seconds
            above = {Role.DISTRICT_STAFF: (top, "Huyện ủy Mê Linh (mẫu)"),
                     Role.CITY_STAFF: (district.city_id, "Thành ủy Hà Nội")}
        else:
            result = build_ward(client, year, seed=args.seed)
            top = result.ward_id
            commands, events, seconds = result.commands, result.events, result.seconds
            above = {Role.CITY_STAFF: (None, "toàn thành phố" if vi else "the whole city")}
        first_cell = next(iter(result.cell_ids.items()))
        users = demo_users(settings_from(config).store, auth_settings(config, embedded=True), {
            Role.CELL_SECRETARY: (first_cell[1], first_cell[0]), Role.WARD_STAFF: (result.ward_id, WARD_NAME),
            **above, Role.AUDITOR: (None, "toàn thành phố" if vi else "the whole city"),
            Role.OPERATOR: (None, "toàn thành phố" if vi else "the whole city")})
        ward_rows = client.cell_months(f"{year}-01", f"{year}-12", result.ward_id)
        print()
        print(format_table(ward_rows, WARD_NAME, year, lang=args.lang))  # one base organisation, month by month
        # the district's (or the ward's) report: by base organisation, then by block with the report's sentences
        for by in (("children", "block") if args.scope == "district" else ("block",)):
            print()
            print(format_rollup(client.rollup(str(year), top, by=by, lang=args.lang), lang=args.lang,
                                sentences=by == "block"))
        print()
        rate = events / seconds
        secs_vi = f"{seconds:.1f}".replace(".", ",")  # Vietnamese decimal comma
        print(f"{commands} lệnh, {events} sự kiện qua bus tới báo cáo trong {secs_vi} giây "
              f"({rate:.0f} sự kiện/giây từ đầu đến cuối, chế độ nhúng)" if vi else
              f"{commands} commands, {events} events through the bus to reporting in "
              f"{seconds:.1f}s ({rate:.0f} events/s end to end, embedded)")
        print()
        print(format_summary(result.story, platform.base_url, lang=args.lang))
        print()
        print(format_users(users, platform.base_url, lang=args.lang))
        print(f"Sức khỏe và số đo (cổng vận hành): {platform.ops_url}/reporting/health, .../metrics" if vi
              else f"Health and metrics (operator port): {platform.ops_url}/reporting/health, .../metrics")
        if args.no_serve:
            return 0
        url = f"{platform.base_url}/reporting/compliance/rollup?unit={top}&period={year}"
        xlsx = f"{platform.base_url}/reporting/exports/rollup.xlsx?unit={top}&period={year}&by=children"
        web = f"{platform.base_url}/web/dashboard?period={year}"
        print(f"\nĐang phục vụ tại {platform.base_url} — ví dụ {url}\nBáo cáo Excel: {xlsx}\n"
              f"Ứng dụng web: {platform.base_url}/ (bảng theo dõi năm {year}: {web})\nNhấn Ctrl-C để dừng."
              if vi else f"\nServing on {platform.base_url} — e.g. {url}\nExcel report: {xlsx}\n"
              f"Web app: {platform.base_url}/ (the {year} dashboard: {web})\nCtrl-C to stop.", flush=True)
        _wait_for_signal()
        return 0
    finally:
        platform.stop()


def cmd_cluster(args: argparse.Namespace) -> int:
    import datetime as dt
    import shutil

    from services.cluster import Cluster
    from services.demo import build_ward, format_summary, format_table

    b = args.base_port
    ports = {"members": b, "meetings": b + 1, "reporting": b + 2}
    ops_ports = {"members": b + 1000, "meetings": b + 1001, "reporting": b + 1002,
                 "relay-members": b + 1010, "relay-meetings": b + 1011}
    # Each process logs in to RabbitMQ as its service's own user when this machine can create them.
    cluster = Cluster(amqp_uri=args.amqp_uri, db_prefix=args.db_prefix, ports=ports, ops_ports=ops_ports,
                      broker_users=shutil.which("rabbitmqctl") is not None)
    try:
        cluster.start()
        if not cluster.broker_passwords:
            print("rabbitmqctl not found: every process logs in as the AMQP_URI user", flush=True)
        for i in range(2, args.replicas + 1):  # standbys: reporting replicas and a relay per source
            cluster.replica("reporting", f"reporting-{i}", b + 2 + 10 * (i - 1), b + 1002 + 10 * (i - 1))
            for n, source in enumerate(("members", "meetings")):
                cluster.standby_relay(source, f"relay-{source}-{i}", b + 1010 + n + 10 * (i - 1))
        host = cluster.host  # the web app: its own process, a client of the three APIs (services/web/config.yml)
        cluster.spawn("web", "run", "web", WEB_HTTP=f"{host}:{b - 1}", WEB_OPS=f"{host}:{b + 999}",
                      CHIBO_REPORTING_URL=f"{cluster.urls['reporting']}/reporting")
        cluster.wait_replicas()
        print(f"web app: http://{host}:{b - 1}/ (accounts: chibo user add --user NAME --role ROLE --unit UNIT_ID)",
              flush=True)
        print("cluster up: " + ", ".join(f"{s} {u}" for s, u in cluster.urls.items()), flush=True)
        print("operator ports: " + ", ".join(f"{s} {u}" for s, u in cluster.ops_urls.items()), flush=True)
        if args.demo:
            year = dt.date.today().year - 1
            client = cluster.client()
            result = build_ward(client, year, ward_code=f"TG{dt.datetime.now():%H%M%S}",
                                step_share=0.0 if args.demo_quick else 0.75)
            client.wait_caught_up()
            rows = client.cell_months(f"{year}-01", f"{year}-12", result.ward_id)
            print(format_table(rows, "Đảng bộ phường Tân Giang", year))
            print()
            print(format_summary(result.story, cluster.urls["meetings"]))
            print()
        print(cluster.roles_table(), flush=True)
        if args.no_serve:
            return 0
        print("Ctrl-C to stop.", flush=True)
        _wait_for_signal()
        return 0
    finally:
        cluster.stop()


# Row outcomes of an import report, as the table names them.
IMPORT_OUTCOMES = {
    "admit": ("sẽ nhập", "to admit"), "admitted": ("đã nhập", "admitted"),
    "exempt": ("sẽ ghi miễn sinh hoạt", "to exempt"), "exempted": ("đã ghi miễn sinh hoạt", "exempted"),
    "unchanged": ("đã có, không đổi", "unchanged"), "problem": ("có lỗi", "with problems"),
}


def format_import_report(body: dict, lang: str = "vi") -> str:
    """The problems of an import answer as a table (row, column, message), then the totals."""
    vi = lang == "vi"
    report = body.get("report", body)
    problems = [p for r in report.get("rows", []) for p in r["problems"]]
    if "rows" not in report:  # the file itself was refused: its fields are the problems
        problems = body.get("fields", [])
    lines = []
    if body.get("error"):
        lines.append(("Từ chối: " if vi else "Refused: ") + body.get("message", ""))
    for w in report.get("warnings", []):
        lines.append(("Cảnh báo: cột " if vi else "Warning: column ") + f"\"{w['column']}\": {w['message']}")
    if problems:
        header = ("Dòng", "Cột", "Vấn đề") if vi else ("Row", "Column", "Problem")
        cells = [(str(p.get("row") or ""), p.get("column") or p.get("field", ""), p["message"]) for p in problems]
        widths = [max(len(c[i]) for c in [header, *cells]) for i in range(2)]
        for row in [header, ("-" * widths[0], "-" * widths[1], "-" * 6), *cells]:
            lines.append(f"{row[0]:>{widths[0]}}  {row[1]:<{widths[1]}}  {row[2]}")
    totals = report.get("totals")
    if totals:
        parts = [f"{n} {IMPORT_OUTCOMES.get(k, (k, k))[0 if vi else 1]}" for k, n in totals.items() if k != "rows"]
        lines.append((f"{totals['rows']} dòng: " if vi else f"{totals['rows']} rows: ") + ", ".join(parts))
        if report.get("dry_run"):
            lines.append("Chạy thử: chưa ghi gì; thêm --apply để nhập." if vi
                         else "Dry run: nothing recorded; add --apply to import.")
    return "\n".join(lines)


def cmd_import_register(args: argparse.Namespace) -> int:
    from pathlib import Path

    import requests

    from services.client import ApiError, ChiboClient

    path = Path(args.file)
    token = args.token or os.environ.get("CHIBO_TOKEN", "")
    if not token:
        print("chibo import-register: cần mã truy cập / a token is needed (--token or CHIBO_TOKEN)", file=sys.stderr)
        return 2
    client = ChiboClient.single(args.url.rstrip("/"), token=token)
    try:
        body = client.import_register(path.read_bytes(), ward=args.ward, apply=args.apply,
                                      skip_invalid=args.skip_invalid, filename=path.name, lang=args.lang)
    except ApiError as refused:
        body = refused.body if isinstance(refused.body, dict) else {"error": "http", "message": str(refused)}
    except (OSError, requests.RequestException) as exc:
        print(f"chibo import-register: {exc}", file=sys.stderr)
        return 2
    print(format_import_report(body, args.lang))
    report = body.get("report", body)
    return 1 if body.get("error") or report.get("totals", {}).get("problem") else 0


def _date_arg(raw: str) -> Any:
    import datetime as dt

    try:
        return dt.date.fromisoformat(raw)
    except ValueError:
        raise argparse.ArgumentTypeError(f"không phải ngày YYYY-MM-DD / not a date YYYY-MM-DD: {raw!r}") from None


def _instant_arg(raw: str) -> Any:
    import datetime as dt

    try:
        return dt.datetime.fromisoformat(raw)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"không phải thời điểm ISO / not an ISO date-time (2025-07-01T08:00+07:00): {raw!r}") from None


def _replay_settings(args: argparse.Namespace) -> tuple[Any, dict]:
    """The reporting service's settings and config: its config.yml (distributed), or the embedded run's."""
    import dataclasses
    from urllib.parse import urlsplit

    from services.runner import WRITERS, embedded_config, service_config
    from shared.config import settings_from

    if not args.embedded:
        config = service_config("reporting") if args.config is None else _load(args.config)
        return settings_from(config), config
    url = args.url.rstrip("/")
    parts = urlsplit(url)
    config = embedded_config(args.data_dir, host=parts.hostname or "127.0.0.1", port=parts.port or 80)
    return dataclasses.replace(settings_from(config), sources={s: f"{url}/{s}" for s in WRITERS}), config


def _replay_headers(args: argparse.Namespace, settings: Any, config: dict) -> Any:
    """How the replay signs its reads of the notification logs: the operator's token (--token, CHIBO_TOKEN), or,
    without one, the tool's own credential minted from the services' config (whoever runs it holds that
    secret and the databases already)."""
    from shared.auth import AuthStore, ServiceCredential, auth_settings

    token = args.token or os.environ.get("CHIBO_TOKEN", "")
    if token:
        return lambda: {"Authorization": f"Bearer {token}"}
    return ServiceCredential("replay", auth_settings(config, embedded=args.embedded), AuthStore(settings.store)).header


def cmd_replay(args: argparse.Namespace) -> int:
    import datetime as dt

    import psycopg
    import requests

    from services.reporting import replay
    from shared.auth import AuthConfigError
    from shared.clock import VIETNAM
    from shared.stores import TrackedStore

    vi = args.lang == "vi"
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s %(message)s")
    now = dt.datetime.now(VIETNAM)
    known_at = args.known_at
    if known_at is not None and known_at.tzinfo is None:
        known_at = known_at.replace(tzinfo=VIETNAM)  # an operator's clock is Việt Nam's

    def fail(vi_text: str, en_text: str) -> int:
        print(f"chibo replay: {vi_text if vi else en_text}", file=sys.stderr)
        return 2

    if args.as_of is not None and args.as_of > now.date():
        return fail(f"--as-of {args.as_of} là ngày trong tương lai", f"--as-of {args.as_of} is in the future")
    if known_at is not None and known_at > now:
        return fail(f"--known-at {args.known_at} là thời điểm trong tương lai",
                    f"--known-at {args.known_at} is in the future")
    if args.metrics_address:
        from prometheus_client import start_http_server

        from shared.metrics import record_build_info

        host, _, port = args.metrics_address.rpartition(":")
        if not port.isdigit():
            return fail(f"--metrics-address cần dạng HOST:PORT: {args.metrics_address!r}",
                        f"--metrics-address needs HOST:PORT: {args.metrics_address!r}")
        record_build_info()
        try:
            start_http_server(int(port), addr=host or "127.0.0.1")
        except OSError as exc:
            return fail(f"không mở được {args.metrics_address}: {exc}", f"cannot serve {args.metrics_address}: {exc}")
    if args.batch < 1:
        return fail(f"--batch phải từ 1 trở lên: {args.batch}", f"--batch must be at least 1: {args.batch}")
    try:
        settings, config = _replay_settings(args)
        headers = _replay_headers(args, settings, config)
        progress = not args.no_progress
        if args.as_of is None and known_at is None:
            verification = replay.verify(settings, target=args.target or "reporting_replay", progress=progress,
                                         headers=headers, batch=args.batch, ahead=args.ahead)
            for line in replay.iter_lines(verification, args.lang):
                print(line)
            return 0 if verification.ok else 1
        day = args.as_of or known_at.astimezone(VIETNAM).date()
        target = args.target or (f"reporting_asof_{day:%Y%m%d}" if args.as_of is not None
                                 else f"reporting_known_{known_at.astimezone(VIETNAM):%Y%m%d%H%M}")
        result = replay.rebuild(settings, target=target, as_of=args.as_of, known_at=known_at, progress=progress,
                                headers=headers, batch=args.batch, ahead=args.ahead)
        store = TrackedStore(settings.store, target)
        try:
            print(replay.report_as_of(store, day, args.lang))
        finally:
            store.close()
        print()
        print(replay.summary(result, args.lang))
        return 0
    except replay.ReplayError as exc:
        return fail(exc.message_in("vi"), exc.message_in("en"))
    except AuthConfigError as exc:
        return fail(str(exc), str(exc))
    except requests.RequestException as exc:
        url = exc.request.url if exc.request is not None else ""
        what = f"HTTP {exc.response.status_code}" if exc.response is not None else type(exc).__name__
        return fail(f"nguồn sự kiện không trả lời ({what}): {url}", f"a source did not answer ({what}): {url}")
    except (psycopg.Error, OSError) as exc:
        return fail(f"không mở được kho dữ liệu: {exc}", f"cannot open the store: {exc}")


def _ttl_arg(raw: str) -> Any:
    import datetime as dt
    import re

    match = re.fullmatch(r"(\d+)([smhd])", raw.strip())
    if not match or int(match.group(1)) == 0:
        raise argparse.ArgumentTypeError(f"thời hạn như 30m, 8h, 7d / a duration such as 30m, 8h, 7d: {raw!r}")
    unit = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days"}[match.group(2)]
    return dt.timedelta(**{unit: int(match.group(1))})


def _opened_auth_context(args: argparse.Namespace, command: str) -> Any:
    """`_auth_context(args)`, or None after printing why it cannot be opened (the caller exits with 2)."""
    import psycopg

    from shared.auth import AuthConfigError

    try:
        return _auth_context(args)
    except (AuthConfigError, psycopg.Error, OSError) as exc:
        print(f"{command}: {exc}", file=sys.stderr)
        return None


def _auth_context(args: argparse.Namespace) -> Any:
    """The auth settings and store, from a service's config.yml (like `chibo run`) or the embedded demo's."""
    from services.runner import embedded_config, service_config
    from shared.auth import AuthStore, auth_settings
    from shared.config import settings_from

    if args.embedded:
        config = embedded_config(args.data_dir)
    else:
        config = service_config("members") if args.config is None else _load(args.config)
    auth = auth_settings(config, embedded=args.embedded)  # refuses the demo secret outside the demo
    return auth, AuthStore(settings_from(config).store)


def cmd_auth(args: argparse.Namespace) -> int:
    """chibo token issue|revoke, chibo apikey create|revoke."""
    from shared.auth import create_api_key, issue_token, parse_role

    opened = _opened_auth_context(args, f"chibo {args.command}")
    if opened is None:
        return 2
    auth, store = opened
    try:
        if args.action == "issue":
            token = issue_token(args.user, parse_role(args.role), args.unit, secret=auth.secret, issuer=auth.issuer,
                                audience=auth.audience, ttl=args.ttl, store=store)
            print(token)
        elif args.action == "create":
            key_id, key = create_api_key(store, args.name, args.scope, role=parse_role(args.role), unit_id=args.unit)
            print(f"key id: {key_id} (khóa chỉ hiện một lần / the key is shown once)", file=sys.stderr)
            print(key)
        else:
            revoke = store.revoke_token if args.command == "token" else store.revoke_api_key
            if not revoke(args.ident):
                print(f"chibo {args.command} revoke: không có hoặc đã thu hồi / unknown or already revoked: "
                      f"{args.ident}", file=sys.stderr)
                return 1
            print(f"đã thu hồi / revoked {args.ident}")
        return 0
    except ValueError as exc:
        print(f"chibo {args.command}: {exc}", file=sys.stderr)
        return 2
    finally:
        store.close()


def cmd_user(args: argparse.Namespace) -> int:
    """chibo user add: a person's sign-in account for the web app (the password is read from the terminal,
    or from CHIBO_USER_PASSWORD for scripts; never from the command line, where `ps` would show it)."""
    import getpass
    import os

    from shared.accounts import add_account
    from shared.auth import parse_role

    password = os.environ.get("CHIBO_USER_PASSWORD") or getpass.getpass("Mật khẩu / password: ")
    opened = _opened_auth_context(args, "chibo user")
    if opened is None:
        return 2
    _, store = opened
    try:
        account = add_account(store, args.user, password, parse_role(args.role), args.unit)
    except ValueError as exc:
        print(f"chibo user add: {exc}", file=sys.stderr)
        return 2
    finally:
        store.close()
    print(f"đã tạo tài khoản / account ready: {account.username} ({account.role.value}"
          f"{', ' + account.unit_id if account.unit_id else ''})")
    return 0


def _add_auth_parsers(sub: Any) -> None:
    # shared.auth is not imported here: it loads psycopg and PyJWT (urllib, sockets), which `chibo demo` and
    # `chibo run` must only import after eventlet.monkey_patch(); cmd_auth checks roles and scopes.
    roles = "cell_secretary, ward_staff, district_staff, city_staff, auditor, operator"

    def common(p: argparse.ArgumentParser) -> None:
        p.add_argument("--config", default=None, help="config file (default: services/members/config.yml)")
        p.add_argument("--embedded", action="store_true", help="for the embedded demo (SQLite under --data-dir)")
        p.add_argument("--data-dir", default="var/demo", help="with --embedded: the demo's data dir")
        p.set_defaults(func=cmd_auth)

    token = sub.add_parser("token", help="issue or revoke a user's access token (JWT)").add_subparsers(
        dest="action", required=True)
    p = token.add_parser("issue", help="issue a token (printed on stdout)")
    p.add_argument("--user", required=True)
    p.add_argument("--role", required=True, help=roles)
    p.add_argument("--unit", default=None, help="the unit id the role is held in (not for city-wide roles)")
    p.add_argument("--ttl", type=_ttl_arg, default="8h", help="lifetime: 30m, 8h, 7d (default 8h)")
    common(p)
    p = token.add_parser("revoke", help="revoke a token by its id (jti)")
    p.add_argument("ident", metavar="JTI")
    common(p)
    apikey = sub.add_parser("apikey", help="create or revoke a machine client's API key").add_subparsers(
        dest="action", required=True)
    p = apikey.add_parser("create", help="create a key (printed once on stdout; only its hash is stored)")
    p.add_argument("--name", required=True)
    p.add_argument("--scope", action="append", required=True,
                   help="an action the key may perform, e.g. reports:read (repeatable)")
    p.add_argument("--role", default="city_staff", help=f"the role the key acts in (default city_staff): {roles}")
    p.add_argument("--unit", default=None)
    common(p)
    p = apikey.add_parser("revoke", help="revoke a key by its id")
    p.add_argument("ident", metavar="KEY_ID")
    common(p)
    user = sub.add_parser("user", help="a person's sign-in account for the web app").add_subparsers(
        dest="action", required=True)
    p = user.add_parser("add", help="create an account, or reset its role, unit and password "
                                    "(password from the terminal or CHIBO_USER_PASSWORD)")
    p.add_argument("--user", required=True)
    p.add_argument("--role", required=True, help=roles)
    p.add_argument("--unit", default=None, help="the unit id the role is held in (not for city-wide roles)")
    common(p)
    p.set_defaults(func=cmd_user)


def cmd_member_erase(args: argparse.Namespace) -> int:
    """chibo member erase: destroy a member's (or a guest's) key; print the tombstone."""
    import uuid

    import psycopg

    from services.members.application import MembersApplication
    from services.runner import embedded_config, service_config
    from shared.config import settings_from
    from shared.errors import DomainError
    from shared.pii import KeyConfigError
    from shared.stores import event_store_env

    try:
        member_id = uuid.UUID(args.member_id)
        config = embedded_config(args.data_dir) if args.embedded else \
            service_config("members") if args.config is None else _load(args.config)
        app = MembersApplication(event_store_env(settings_from(config).store, "members"))
    except (ValueError, KeyConfigError, psycopg.Error, OSError) as exc:
        print(f"chibo member erase: {exc}", file=sys.stderr)
        return 2
    try:
        tomb = app.erase_member(member_id=member_id, by=args.by, reason=args.reason, guest=args.guest)
    except DomainError as exc:
        print(f"chibo member erase: {exc.message_in(args.lang)}", file=sys.stderr)
        return 1
    finally:
        app.close()
    print(f"đã xóa dữ liệu cá nhân của {member_id} lúc {tomb['shredded_at']} ({tomb['shredded_by']}: "
          f"{tomb['reason']})" if args.lang == "vi" else
          f"erased the personal data of {member_id} at {tomb['shredded_at']} ({tomb['shredded_by']}: {tomb['reason']})")
    return 0


def _add_member_parsers(sub: Any) -> None:
    member = sub.add_parser("member", help="a member's personal data").add_subparsers(dest="action", required=True)
    p = member.add_parser("erase", help="erase a member's personal data (crypto-shredding; cannot be undone)")
    p.add_argument("member_id", metavar="MEMBER_ID")
    p.add_argument("--reason", required=True, help="why (kept in the key store's tombstone)")
    p.add_argument("--by", required=True, help="who decided (kept in the tombstone)")
    p.add_argument("--guest", action="store_true", help="the id is a meeting guest's, not a member's")
    p.add_argument("--config", default=None, help="config file (default: services/members/config.yml)")
    p.add_argument("--embedded", action="store_true", help="for the embedded demo (SQLite under --data-dir)")
    p.add_argument("--data-dir", default="var/demo", help="with --embedded: the demo's data dir")
    p.add_argument("--lang", choices=("vi", "en"), default="vi")
    p.set_defaults(func=cmd_member_erase)


def cmd_audit(args: argparse.Namespace) -> int:
    import sqlite3

    import psycopg
    from eventsourcing.persistence import PersistenceError

    from services.runner import WRITERS, service_config
    from shared import audit
    from shared.config import StoreSettings, settings_from

    vi = args.lang == "vi"
    services = WRITERS if args.service == "all" else (args.service,)
    tampered = False
    try:
        for service in services:
            if args.embedded:
                settings = StoreSettings(kind="sqlite", data_dir=args.data_dir)
            else:
                settings = settings_from(service_config(service) if args.config is None else _load(args.config)).store
            if args.action == "checkpoint":
                result, recorded = audit.record_checkpoint(settings, service)
                if recorded:
                    print(f"{service}: đã ghi điểm kiểm tra ở vị trí {result.head_position}, băm {result.head_hash} "
                          "(hãy lưu mã băm này ở nơi khác)" if vi else
                          f"{service}: checkpoint recorded at position {result.head_position}, hash "
                          f"{result.head_hash} (keep this hash somewhere else too)")
                    tampered = tampered or not result.ok
                    continue
                if result.ok:
                    print(f"{service}: không có sự kiện mới, không ghi điểm kiểm tra" if vi
                          else f"{service}: no new events, no checkpoint recorded")
            else:
                result = audit.verify(settings, service)
            for line in audit.describe(result, args.lang):
                print(line)
            tampered = tampered or not result.ok
    except audit.AuditError as exc:
        print(f"chibo audit: {exc.message_in(args.lang)}", file=sys.stderr)
        return 2
    except (psycopg.Error, sqlite3.Error, PersistenceError, OSError, KeyError, ValueError) as exc:
        print(f"chibo audit: {'lỗi' if vi else 'error'}: {exc}", file=sys.stderr)
        return 2
    return 1 if tampered else 0


def cmd_deadletters(args: argparse.Namespace) -> int:
    """List, show or re-drive dead-lettered messages. Talks to RabbitMQ (AMQP_URI): no HTTP, no token."""
    import json

    from services import deadletters

    uri = args.amqp_uri or os.environ.get("AMQP_URI", "pyamqp://guest:guest@127.0.0.1:5672/")
    vi = args.lang == "vi"
    positions = set(args.position) if args.position else None
    indexes = set(args.index) if args.index else None
    if args.action == "redrive":
        pairs = deadletters.queues(args.consumer, args.source)
        if len(pairs) != 1:
            print("chibo deadletters redrive: " + ("cần --consumer và --source (một hàng đợi)" if vi
                  else "needs --consumer and --source (one queue)"), file=sys.stderr)
            return 2
        if positions is None and indexes is None and not args.all:
            print("chibo deadletters redrive: " + ("chọn --position, --index hoặc --all" if vi
                  else "choose --position, --index or --all"), file=sys.stderr)
            return 2
        moved = deadletters.redrive(uri, *pairs[0], positions=positions, indexes=indexes)
        for letter in moved:
            print(json.dumps(letter.summary(), ensure_ascii=False))
        print(f"{'đã đưa lại' if vi else 're-driven'}: {len(moved)}")
        return 0
    letters = deadletters.list_dead_letters(uri, args.consumer, args.source)
    if args.action == "show":
        letters = [d for d in letters if (positions is None or d.position in positions)
                   and (indexes is None or d.index in indexes)]
        for letter in letters:
            print(json.dumps({"queue": letter.queue, "index": letter.index, "headers": letter.headers,
                              "body": letter.body}, ensure_ascii=False, indent=2, default=str))
        return 0 if letters else 1
    if not letters:
        print("Không có thư chết nào." if vi else "No dead letters.")
    for letter in letters:
        s = letter.summary()
        print(f"{s['queue']} #{s['index']}  {s['source']}@{s['position']}  {s['type']}  {s['failed_at']}  "
              f"{s['reason']}")
    return 0


def _add_deadletter_parser(sub: Any) -> None:
    p = sub.add_parser("deadletters", help="the dead-letter queues: list, show, redrive (RabbitMQ directly; the "
                       "operator's deadletters:manage)")
    p.add_argument("action", choices=("list", "show", "redrive"))
    p.add_argument("--consumer", choices=("meetings", "reporting"), default=None)
    p.add_argument("--source", choices=("members", "meetings"), default=None)
    p.add_argument("--position", type=int, action="append", help="the event's position in its source (repeatable)")
    p.add_argument("--index", type=int, action="append", help="the message's rank in its queue, from 1 (repeatable)")
    p.add_argument("--all", action="store_true", help="redrive: every message of the queue")
    p.add_argument("--amqp-uri", default=None, help="default: $AMQP_URI, else the local broker")
    p.add_argument("--lang", choices=("vi", "en"), default="vi")
    p.set_defaults(func=cmd_deadletters)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] in (["demo"], ["run"]):  # patched before the parser's imports reach psycopg (shared/green.py)
        from shared.green import serve_green

        serve_green()
    parser = argparse.ArgumentParser(prog="chibo", description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("demo", help="embedded run with a sample district (or ward)")
    scope = p.add_mutually_exclusive_group()
    scope.add_argument("--district", dest="scope", action="store_const", const="district",
                       help="a district of five base organisations, the ward among them (the default)")
    scope.add_argument("--ward", dest="scope", action="store_const", const="ward", help="the sample ward alone")
    p.set_defaults(scope="district")
    p.add_argument("--no-serve", action="store_true", help="exit after printing the tables")
    p.add_argument("--port", type=int, default=int(os.environ.get("CHIBO_PORT", "8000")))
    p.add_argument("--ops-port", type=int, default=int(os.environ.get("CHIBO_OPS_PORT", "9000")),
                   help="health and metrics (the operator port)")
    p.add_argument("--data-dir", default="var/demo", help="SQLite files (recreated on each demo)")
    p.add_argument("--year", type=int, default=None, help="year of meetings (default: last year)")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--lang", choices=("vi", "en"), default="vi")
    p.set_defaults(func=cmd_demo)
    p = sub.add_parser("run", help="run one service (distributed)")
    p.add_argument("service", choices=("members", "meetings", "reporting", "web"))
    p.add_argument("--config", default=None, help="config file (default: services/<service>/config.yml)")
    p.set_defaults(func=cmd_run)
    p = sub.add_parser("relay", help="run one outbox relay (distributed)")
    p.add_argument("source", choices=("members", "meetings"))
    p.add_argument("--config", default=None)
    p.set_defaults(func=cmd_relay)
    p = sub.add_parser("declare", help="declare exchanges and queues, or write the broker's definitions")
    p.add_argument("--amqp-uri", default=None)
    p.add_argument("--definitions", default="", metavar="FILE",
                   help="write RabbitMQ definitions (exchanges, queues, a user per service and its permissions; "
                        "passwords from CHIBO_AMQP_PASSWORD_<SERVICE> and CHIBO_AMQP_ADMIN_PASSWORD) to FILE "
                        "('-': stdout) for `rabbitmqctl import_definitions` or load_definitions")
    p.add_argument("--vhost", default="chibo", help="with --definitions: the virtual host (default chibo)")
    p.add_argument("--user-prefix", default="chibo", help="with --definitions: user names <prefix>-<service>")
    p.set_defaults(func=cmd_declare)
    p = sub.add_parser("cluster", help="start every service and relay as local processes")
    p.add_argument("--demo", action="store_true", help="record the demo ward and print its table")
    p.add_argument("--demo-quick", action="store_true",
                   help="with --demo: each meeting in one command instead of most of them step by step")
    p.add_argument("--no-serve", action="store_true")
    p.add_argument("--base-port", type=int, default=8001,
                   help="members' HTTP port; meetings +1, reporting +2, operator ports +1000, relays +1010; "
                        "replica i adds 10*(i-1)")
    p.add_argument("--db-prefix", default=os.environ.get("CHIBO_PG_DB_PREFIX", "chibo"),
                   help="PostgreSQL databases <prefix>_<service>")
    p.add_argument("--amqp-uri", default=os.environ.get("AMQP_URI", "pyamqp://guest:guest@127.0.0.1:5672/"),
                   help="the broker and vhost (an administrator's login: it declares the topology)")
    p.add_argument("--replicas", type=int, default=1, help="N reporting processes (one active consumer, the "
                   "others standing by) and N relays per source (one holds the lock); default 1")
    p.set_defaults(func=cmd_cluster)
    p = sub.add_parser("import-register", help="check (dry run) or import a ward's register from XLSX/CSV")
    p.add_argument("file", help="the register: .xlsx, or .csv in UTF-8 (\",\" or \";\" separated)")
    p.add_argument("--ward", required=True, help="code (or id) of the ward whose cells the file lists")
    p.add_argument("--apply", action="store_true", help="record the members (default: a dry run)")
    p.add_argument("--skip-invalid", action="store_true", help="with --apply: import the valid rows only")
    p.add_argument("--url", default=os.environ.get("CHIBO_URL", "http://127.0.0.1:8000"),
                   help="the members service (default: the embedded run)")
    p.add_argument("--lang", choices=("vi", "en"), default="vi")
    p.add_argument("--token", default="", help="your access token or API key (default: $CHIBO_TOKEN); the "
                   "import is recorded in that user's name")
    p.set_defaults(func=cmd_import_register)
    p = sub.add_parser("replay", help="rebuild reporting from the sources' logs and compare it with the live store")
    p.add_argument("--config", default=None, help="reporting config (default: services/reporting/config.yml)")
    p.add_argument("--as-of", type=_date_arg, default=None, metavar="YYYY-MM-DD",
                   help="only events that occurred (Việt Nam time) up to that day, into a separate store; a report")
    p.add_argument("--known-at", type=_instant_arg, default=None, metavar="ISO-DATETIME",
                   help="only events the platform had recorded by then (naive: Việt Nam time)")
    p.add_argument("--target", default=None, help="the store to (re)build (default: reporting_replay, "
                   "reporting_asof_YYYYMMDD with --as-of); never a live store")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.add_argument("--batch", type=int, default=500, metavar="N",
                   help="events per transaction (default 500; 1: one per event); the tables are the same either way")
    p.add_argument("--no-read-ahead", dest="ahead", action="store_false",
                   help="read the logs in this process instead of a forked child on the second core")
    p.add_argument("--metrics-address", default=os.environ.get("CHIBO_REPLAY_METRICS", ""), metavar="HOST:PORT",
                   help="serve /metrics (chibo_replay_position, _target_position, _events_total, _running) there "
                        "while the replay runs, for Prometheus or curl")
    p.add_argument("--lang", choices=("vi", "en"), default="vi")
    p.add_argument("--embedded", action="store_true", help="against a running `chibo demo` (SQLite, one port)")
    p.add_argument("--data-dir", default="var/demo", help="with --embedded: the demo's data dir")
    p.add_argument("--url", default=os.environ.get("CHIBO_URL", "http://127.0.0.1:8000"),
                   help="with --embedded: the demo's address")
    p.add_argument("--token", default="", help="an operator's token or API key for reading the sources' logs "
                   "(default: $CHIBO_TOKEN, else the tool's own credential from the services' config)")
    p.set_defaults(func=cmd_replay)
    _add_auth_parsers(sub)
    _add_member_parsers(sub)
    _add_deadletter_parser(sub)
    from services.synthetic.command import add_parser as add_generate_parser

    add_generate_parser(sub)
    p = sub.add_parser("audit", help="tamper evidence for the event stores: checkpoint, verify")
    p.add_argument("action", choices=("checkpoint", "verify"),
                   help="checkpoint: verify, then record the current heads; verify: recompute and compare")
    p.add_argument("--service", choices=("members", "meetings", "all"), default="all")
    p.add_argument("--config", default=None, help="config file (default: services/<service>/config.yml; "
                   "with --service all, the one file for both)")
    p.add_argument("--embedded", action="store_true", help="the embedded run's SQLite files (`chibo demo`)")
    p.add_argument("--data-dir", default="var/demo", help="with --embedded: the data dir")
    p.add_argument("--lang", choices=("vi", "en"), default="vi")
    p.set_defaults(func=cmd_audit)
    args = parser.parse_args(argv)
    return int(args.func(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
