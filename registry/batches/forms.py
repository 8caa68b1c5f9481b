"""The CA's forms (Decree 68/2024/NĐ-CP): which sheet each request kind goes to, with the columns the CA
reads, in Vietnamese. DoIT never retypes a name: every cell comes from the request as filed."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from registry.certs.reasons import REASON_LABELS
from registry.exports import Column, Sheet

COMMON_HEAD = [Column("no", "STT", 6), Column("request_id", "Số yêu cầu", 10)]
COMMON_TAIL = [Column("agency_code", "Mã định danh cơ quan", 18), Column("decided", "Thủ trưởng phê duyệt", 30)]

FORMS: list[tuple[str, tuple[str, ...], list[Column]]] = [
    ("Mẫu 01 - Cấp mới cá nhân", ("new_personal",), [
        Column("full_name", "Họ và tên", 28),
        Column("date_of_birth", "Ngày sinh", 12),
        Column("id_number", "Số CCCD", 16),
        Column("id_issued_on", "Ngày cấp CCCD", 14),
        Column("id_issued_by", "Nơi cấp CCCD", 30),
        Column("position", "Chức vụ", 24),
        Column("agency_name", "Cơ quan, đơn vị", 40),
        Column("email", "Thư điện tử công vụ", 30),
        Column("phone", "Số điện thoại di động", 14),
        Column("validity_years", "Thời hạn (năm)", 10),
    ]),
    ("Mẫu 02 - Cấp mới tổ chức", ("new_org",), [
        Column("org_name", "Tên cơ quan, tổ chức", 40),
        Column("address", "Địa chỉ", 40),
        Column("tax_code", "Mã số thuế", 14),
        Column("budget_code", "Mã quan hệ ngân sách", 12),
        Column("email", "Thư điện tử công vụ", 30),
        Column("receiver_name", "Người nhận thiết bị", 28),
        Column("receiver_id_number", "Số CCCD người nhận", 16),
        Column("receiver_position", "Chức vụ người nhận", 20),
        Column("receiver_phone", "Điện thoại người nhận", 14),
        Column("receiver_email", "Thư điện tử người nhận", 30),
        Column("validity_years", "Thời hạn (năm)", 10),
    ]),
    ("Mẫu 04 - Gia hạn, điều chỉnh", ("renew", "change"), [
        Column("kind_label", "Loại đề nghị", 28),
        Column("holder", "Chủ thể chứng thư số", 30),
        Column("serial", "Số hiệu chứng thư số", 36),
        Column("not_after", "Hết hạn", 12),
        Column("agency_name", "Cơ quan, đơn vị", 40),
        Column("changes", "Nội dung điều chỉnh", 40),
        Column("validity_years", "Thời hạn gia hạn (năm)", 10),
        Column("detail", "Ghi chú", 30),
    ]),
    ("Mẫu 05 - Thu hồi", ("revoke",), [
        Column("holder", "Chủ thể chứng thư số", 30),
        Column("serial", "Số hiệu chứng thư số", 36),
        Column("agency_name", "Cơ quan, đơn vị", 40),
        Column("reason", "Lý do thu hồi", 30),
        Column("urgent", "Khẩn", 6),
        Column("detail", "Chi tiết", 30),
    ]),
    ("Mẫu 06 - Mở khóa, cấp lại mật khẩu", ("unlock",), [
        Column("holder", "Chủ thể chứng thư số", 30),
        Column("serial", "Số hiệu chứng thư số", 36),
        Column("agency_name", "Cơ quan, đơn vị", 40),
        Column("detail", "Mô tả", 40),
    ]),
]

CHANGE_LABELS = {"full_name": "Họ tên", "email": "Thư điện tử", "position": "Chức vụ", "unit": "Đơn vị",
                 "agency_code": "Cơ quan", "org_name": "Tên tổ chức", "address": "Địa chỉ"}


def form_of(kind: str) -> str:
    return next(title for title, kinds, _columns in FORMS if kind in kinds)


def flatten(item: Mapping[str, Any], certificate: Mapping[str, Any] | None) -> dict[str, Any]:
    """One request as a row of its form: its details, its agency, and the certificate it acts on."""
    details = item["details"]
    receiver = details.get("receiver") or {}
    changes = details.get("changes") or {}
    return {
        **details,
        "request_id": item["id"],
        "kind": item["kind"],
        "kind_label": item["kind_label"],
        "agency_code": item["agency_code"],
        "agency_name": item["agency_name"],
        "decided": f"{item.get('decided_by_name') or item.get('decided_by') or ''}",
        "receiver_name": receiver.get("full_name", ""),
        "receiver_id_number": receiver.get("id_number", ""),
        "receiver_position": receiver.get("position", ""),
        "receiver_phone": receiver.get("phone", ""),
        "receiver_email": receiver.get("email", ""),
        "holder": (certificate or {}).get("common_name") or (item.get("subject") or {}).get("full_name", ""),
        "serial": (certificate or {}).get("serial", ""),
        "not_after": (certificate or {}).get("not_after"),
        "changes": "; ".join(f"{CHANGE_LABELS.get(k, k)}: {v}" for k, v in changes.items()),
        "reason": REASON_LABELS.get(item.get("reason") or "", ""),
        "urgent": "Khẩn" if item["urgent"] else "",
    }


def sheets(rows: list[dict[str, Any]]) -> list[Sheet]:
    """A sheet per form, numbered from 1 within each; forms without requests are left out."""
    result = []
    for title, kinds, columns in FORMS:
        selected = [row for row in rows if row["kind"] in kinds]
        if selected:
            numbered = [{**row, "no": index} for index, row in enumerate(selected, start=1)]
            result.append(Sheet(title, [*COMMON_HEAD, *columns, *COMMON_TAIL], numbered))
    return result


def all_columns() -> list[Column]:
    """Every form's columns once, for the single CSV (whose first column names the form)."""
    seen: dict[str, Column] = {}
    for _title, _kinds, columns in FORMS:
        for column in columns:
            seen.setdefault(column.key, column)
    return [Column("form", "Mẫu", 30), *COMMON_HEAD, *seen.values(), *COMMON_TAIL]
