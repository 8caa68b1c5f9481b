"""Vietnamese wording, for pages, of the English field messages the services give the API."""

from __future__ import annotations

import re

EXACT = {
    "is required": "Bắt buộc nhập",
    "must be text": "Phải là văn bản",
    "not a valid email address": "Địa chỉ thư điện tử không hợp lệ",
    "a citizen ID (CCCD) has exactly 12 digits": "Số CCCD gồm đúng 12 chữ số",
    "a budget relation code has exactly 7 digits": "Mã quan hệ ngân sách gồm đúng 7 chữ số",
    "a tax code has 10 digits, or 10-3 for a branch": "Mã số thuế gồm 10 chữ số (chi nhánh: 10-3)",
    "10 digits starting with 0": "Số di động gồm 10 chữ số, bắt đầu bằng 0",
    "a mobile number has 10 digits starting with 0": "Số di động gồm 10 chữ số, bắt đầu bằng 0",
    "expected YYYY-MM-DD": "Nhập ngày theo dạng năm-tháng-ngày",
    "expected a date as YYYY-MM-DD": "Nhập ngày theo dạng năm-tháng-ngày",
    "implausible date of birth": "Ngày sinh không hợp lý",
    "is in the future": "Ngày này ở tương lai",
    "is before the date of birth": "Trước ngày sinh",
    "unknown certificate": "Không có chứng thư số này trong hệ thống",
    "held by another agency": "Chứng thư số thuộc cơ quan, đơn vị khác",
    "already revoked": "Chứng thư số đã bị thu hồi",
    "superseded": "Chứng thư số đã được thay thế bằng chứng thư mới",
    "expired": "Chứng thư số đã hết hạn",
    "say why, when the reason is 'other'": "Nêu rõ lý do",
    "the person who will receive the token is required": "Cần thông tin người nhận thiết bị",
    "no such agency": "Không có cơ quan, đơn vị này",
    "not in this agency": "Người này không thuộc cơ quan, đơn vị",
    "unknown kind": "Loại yêu cầu không hợp lệ",
    "must be a number": "Phải là số",
}
PATTERNS = [
    (re.compile(r"^renewal opens on (\S+)$"), "Chỉ được đề nghị gia hạn từ ngày {0}"),
    (re.compile(r"^1 to (\d+) years$"), "Từ 1 đến {0} năm"),
    (re.compile(r"^at most (\d+) characters$"), "Tối đa {0} ký tự"),
    (re.compile(r"^one of .*$"), "Chọn một giá trị trong danh sách"),
    (re.compile(r"^name the fields to change.*$"), "Chọn ít nhất một thông tin cần điều chỉnh"),
    (re.compile(r"^cannot be changed.*$"), "Không điều chỉnh được thông tin này"),
]


def vi(message: str | None) -> str:
    if not message:
        return ""
    if message in EXACT:
        return EXACT[message]
    for pattern, template in PATTERNS:
        found = pattern.match(message)
        if found:
            return template.format(*found.groups())
    return message
