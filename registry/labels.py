"""What people read instead of code: Vietnamese names of fields (in request details, audit entries) and
of audit actions, and values shown the Vietnamese way (dates dd/mm/yyyy, yes/no)."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from datetime import date, datetime
from typing import Any

from registry.timeutil import display, parse_moment

FIELD_LABELS: dict[str, str] = {
    "full_name": "Họ và tên",
    "date_of_birth": "Ngày sinh",
    "id_number": "Số CCCD",
    "id_issued_on": "Ngày cấp CCCD",
    "id_issued_by": "Nơi cấp CCCD",
    "email": "Thư điện tử",
    "position": "Chức vụ",
    "phone": "Số điện thoại",
    "unit": "Phòng, ban",
    "validity_years": "Thời hạn (năm)",
    "org_name": "Tên cơ quan, tổ chức",
    "address": "Địa chỉ",
    "tax_code": "Mã số thuế",
    "budget_code": "Mã quan hệ ngân sách",
    "receiver": "Người nhận thiết bị",
    "changes": "Nội dung điều chỉnh",
    "detail": "Ghi chú",
    "reason": "Lý do",
    "agency_code": "Cơ quan, đơn vị",
    "account_name": "Tên tài khoản",
    "role": "Vai trò",
    "system": "Hệ thống",
    "name": "Tên",
    "short_name": "Tên viết tắt",
    "code": "Mã định danh",
    "parent_code": "Cơ quan cấp trên",
    "state": "Trạng thái",
    "note": "Ghi chú",
    "kind": "Loại",
    "summary": "Nội dung",
    "urgent": "Khẩn",
    "roles": "Vai trò",
    "active": "Đang hoạt động",
    "username": "Tên đăng nhập",
    "holder_person_id": "Người sở hữu",
    "custodian_person_id": "Văn thư quản lý",
    "fingerprint": "Dấu vân tay SHA-256",
    "serial": "Số sê-ri",
    "subject": "Chủ thể",
    "revoked_at": "Thu hồi lúc",
    "revocation_reason": "Lý do thu hồi",
    "date": "Ngày",
    "count": "Số lượng",
    "at": "Thời điểm",
    "late": "Trễ hạn",
    "ip": "Địa chỉ IP",
    "token_id": "Khóa truy cập",
    "user": "Tài khoản đăng nhập",
    "person": "Người",
    "agency": "Cơ quan, đơn vị",
    "certificate": "Chứng thư số",
    "cert_request": "Yêu cầu chứng thư số",
    "account_request": "Yêu cầu tài khoản",
    "specimen": "Mẫu chữ ký",
    "mailbox": "Hộp thư trao đổi văn bản",
    "ca_batch": "Danh sách gửi CA",
    "dispatch_no": "Số công văn",
    # Fields that refused input names (forms, uploads, lists).
    "file": "Tệp",
    "body": "Dữ liệu gửi lên",
    "person_id": "Người",
    "request_ids": "Các yêu cầu",
    "dispatched_on": "Ngày gửi",
    "expiring": "Sắp hết hạn",
    "expiring_within": "Sắp hết hạn trong",
    "status": "Tình trạng",
    "limit": "Số dòng",
    "cursor": "Liên kết trang",
    "format": "Định dạng",
    "password": "Mật khẩu",
    "current_password": "Mật khẩu hiện tại",
    "new_password": "Mật khẩu mới",
    "confirm_password": "Nhập lại mật khẩu mới",
    "since": "Từ",
    "until": "Đến",
    "approve": "Phê duyệt",
    "reject": "Từ chối",
    "domain": "Loại yêu cầu",
    "expires_days": "Số ngày hiệu lực",
    "new_id": "Chứng thư số mới",
}

# Actions written by code outside the workflow engine (the engine's are named from its flows).
AUDIT_ACTIONS: dict[str, str] = {
    "agency.create": "Tạo cơ quan, đơn vị",
    "agency.update": "Sửa thông tin cơ quan, đơn vị",
    "agency.rename": "Đổi tên cơ quan, đơn vị",
    "agency.import": "Nhập danh sách cơ quan, đơn vị",
    "settings.update": "Thay đổi thiết lập",
    "person.create": "Thêm người",
    "person.update": "Sửa thông tin người",
    "person.import": "Nhập danh sách người",
    "person.departure": "Ghi nhận chuyển công tác, nghỉ việc",
    "user.create": "Tạo tài khoản đăng nhập",
    "user.grant_role": "Giao vai trò",
    "user.revoke_role": "Thu hồi vai trò",
    "user.activate": "Mở lại tài khoản đăng nhập",
    "user.deactivate": "Khóa tài khoản đăng nhập",
    "auth.login": "Đăng nhập",
    "auth.logout": "Đăng xuất",
    "auth.password_change": "Đổi mật khẩu",
    "token.create": "Tạo khóa truy cập API",
    "token.revoke": "Thu hồi khóa truy cập API",
    "certificate.import": "Nhập chứng thư số",
    "certificate.link": "Gắn người sở hữu chứng thư số",
    "certificate.import_override": "Nhập chứng thư số chưa qua kiểm tra (quản trị cho phép)",
    "trust.add_anchor": "Thêm chứng thư gốc tin cậy",
    "trust.add_intermediate": "Thêm chứng thư CA trung gian",
    "trust.add_crl": "Thêm danh sách thu hồi (CRL)",
    "certificate.revoke": "Ghi nhận thu hồi chứng thư số",
    "certificate.supersede": "Ghi nhận chứng thư số thay thế",
    "certificate.revocation_pending": "Đánh dấu chờ thu hồi",
    "certificate.revocation_pending_cleared": "Bỏ đánh dấu chờ thu hồi",
    "cert_request.hand_to_holder": "Giao chứng thư số cho người sử dụng",
    "cert_request.token_returned": "Ghi nhận trả thiết bị",
}

_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_ISO_MOMENT = re.compile(r"^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}")


def field_label(key: str) -> str:
    """`receiver.full_name` → "Người nhận thiết bị — Họ và tên"; unknown keys are shown as they are."""
    return " — ".join(FIELD_LABELS.get(part, part) for part in str(key).split("."))


def show(value: Any) -> str:
    """A value as people read it: dates dd/mm/yyyy, moments with the time, yes/no, lists joined."""
    if value is None or value == "":
        return "—"
    if isinstance(value, bool):
        return "Có" if value else "Không"
    if isinstance(value, (datetime, date)):
        return display(value)
    if isinstance(value, str):
        if _ISO_DATE.match(value):
            return display(date.fromisoformat(value))
        if _ISO_MOMENT.match(value):
            try:
                return display(parse_moment(value))
            except ValueError:
                return value
        return value
    if isinstance(value, (list, tuple)):
        return ", ".join(show(item) for item in value)
    if isinstance(value, Mapping):
        return "; ".join(f"{field_label(k)}: {show(v)}" for k, v in value.items())
    return str(value)


def flat_fields(values: Mapping[str, Any] | None, prefix: str = "") -> list[tuple[str, Any]]:
    """Nested details as (dotted key, value) pairs, empty values left out."""
    pairs: list[tuple[str, Any]] = []
    for key, value in (values or {}).items():
        if isinstance(value, Mapping):
            pairs.extend(flat_fields(value, f"{prefix}{key}."))
        elif value not in (None, ""):
            pairs.append((f"{prefix}{key}", value))
    return pairs


def changes(before: Mapping[str, Any] | None, after: Mapping[str, Any] | None) -> list[dict[str, Any]]:
    """An audit entry field by field: what each field was and what it became."""
    old, new = dict(flat_fields(before)), dict(flat_fields(after))
    keys: Iterable[str] = list(dict.fromkeys([*old, *new]))
    return [{"field": field_label(k), "before": show(old.get(k)), "after": show(new.get(k))} for k in keys
            if old.get(k) != new.get(k) or k not in old]


def audit_action(action: str, flows: Iterable[Any] = ()) -> str:
    """`cert_request.approve` → "Yêu cầu chứng thư số: Phê duyệt", from the flows' own labels."""
    if action in AUDIT_ACTIONS:
        return AUDIT_ACTIONS[action]
    record_type, _, transition = action.partition(".")
    for flow in flows:
        if flow.record_type == record_type:
            found = flow.machine.get(transition)
            label = found.label if found else ("Lập yêu cầu" if transition == "submit" else transition)
            return f"{flow.label}: {label}"
    return action
