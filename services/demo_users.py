"""The embedded demo's sign-ins: one user per role, each with a token for the sample organisation.

The tokens are signed with the public demo secret and recorded in the demo's auth store (so `chibo token
revoke --embedded JTI` works on them); they are only accepted by the embedded run.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from shared.auth import AuthSettings, AuthStore, Role, issue_token
from shared.config import StoreSettings

DEMO_TTL = dt.timedelta(hours=12)


@dataclass(frozen=True)
class DemoUser:
    user: str
    role: Role
    unit_id: str | None
    unit_label: str
    token: str
    password: str = ""  # the web app's sign-in (shared/accounts.py), generated for each demo run


def demo_users(store: StoreSettings, auth: AuthSettings, units: dict[Role, tuple[str | None, str]],
               ttl: dt.timedelta = DEMO_TTL) -> list[DemoUser]:
    """A token per role in `units` (role -> (unit id, what the unit is called)), recorded in the auth store."""
    names = {Role.CELL_SECRETARY: "bithu.demo", Role.WARD_STAFF: "canbo.phuong.demo",
             Role.DISTRICT_STAFF: "canbo.huyen.demo", Role.CITY_STAFF: "canbo.thanhpho.demo",
             Role.AUDITOR: "kiemtra.demo", Role.OPERATOR: "vanhanh.demo"}
    from shared.accounts import add_account, new_password

    auth_store = AuthStore(store)
    try:
        users = []
        for role, (unit_id, label) in units.items():
            password = new_password()
            add_account(auth_store, names[role], password, role, unit_id)
            users.append(DemoUser(names[role], role, unit_id, label,
                                  issue_token(names[role], role, unit_id, secret=auth.secret, issuer=auth.issuer,
                                              audience=auth.audience, ttl=ttl, store=auth_store), password))
        return users
    finally:
        auth_store.close()


def format_users(users: list[DemoUser], base_url: str, lang: str = "vi") -> str:
    """The sign-ins as the demo prints them: role, user, unit, then the token on its own line."""
    vi = lang == "vi"
    lines = ["Tài khoản mẫu (mã truy cập hiệu lực 12 giờ, gửi kèm tiêu đề `Authorization: Bearer <mã>`):" if vi
             else "Demo accounts (tokens valid for 12 hours, sent as `Authorization: Bearer <token>`):"]
    for u in users:
        role = u.role.label_vi if vi else u.role.label_en
        lines.append(f"  {role} — {u.user} — {u.unit_label}" + (
            f" — {'mật khẩu' if vi else 'password'}: {u.password}" if u.password else ""))
        lines.append(f"    {u.token}")
    example = next((u for u in users if u.role is Role.WARD_STAFF), users[0])
    lines.append(("Ví dụ: " if vi else "e.g. ") + f"curl -H 'Authorization: Bearer {example.token[:16]}…' "
                 f"{base_url}/reporting/compliance/rollup")
    lines.append(f"Ứng dụng web: mở {base_url}/ và đăng nhập bằng tên và mật khẩu ở trên" if vi else
                  f"Web app: open {base_url}/ and sign in with a user name and password above")
    return "\n".join(lines)
