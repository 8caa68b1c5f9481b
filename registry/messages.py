"""The message catalogue: every message a person reads, in Vietnamese, keyed by the stable `code` that
errors carry (and scripts branch on). Rewording a message here never breaks a script or a translation."""

from __future__ import annotations

import string
from typing import Any

from registry.errors import RegistryError

CATALOGUE: dict[str, str] = {
    # generic, by status
    "bad_request": "Yêu cầu không hợp lệ.",
    "invalid_input": "Dữ liệu không hợp lệ, vui lòng kiểm tra lại.",
    "unauthenticated": "Vui lòng đăng nhập.",
    "forbidden": "Bạn không có quyền thực hiện thao tác này.",
    "not_permitted": "Vai trò của bạn không cho phép thao tác này.",
    "not_found": "Không tìm thấy.",
    "conflict": "Trạng thái đã thay đổi; vui lòng tải lại trang.",
    "too_large": "Tệp quá lớn.",
    "too_many_requests": "Thao tác quá nhiều lần; vui lòng thử lại sau.",
    "busy": "Hệ thống đang bận; vui lòng thử lại sau ít giây.",
    # requests and the workflow engine
    "request_not_found": "Không có yêu cầu số {id}.",
    "unknown_action": "Thao tác không hợp lệ.",
    "state_changed": "Yêu cầu #{id} đang ở trạng thái «{state}», không thể «{action}» nữa.",
    "own_request": "Bạn không thể tự phê duyệt yêu cầu #{id} của mình hoặc về mình; thủ trưởng cấp trên sẽ phê duyệt.",
    "reason_required": "Cần nêu lý do.",
    "text_too_long": "Nội dung dài quá {max} ký tự.",
    "changed_concurrently": "Yêu cầu #{id} vừa được người khác thay đổi; vui lòng tải lại.",
    "invalid_id": "Số yêu cầu không hợp lệ.",
    "duplicate_item": "Yêu cầu #{id} được chọn hai lần.",
    "nothing_to_decide": "Chưa chọn yêu cầu nào.",
    "decisions_refused": "{failed} trên {total} yêu cầu không xử lý được nên chưa ghi nhận quyết định nào: {first}",
    "unknown_domain": "Loại yêu cầu «{domain}» không có trong hệ thống.",
    "request_already_open": "Đã có yêu cầu #{id} ({kind}, {state}) đang xử lý; không lập thêm yêu cầu trùng.",
    # certificates
    "certificate_revoked": "Chứng thư số đã bị thu hồi.",
    "certificate_superseded": "Chứng thư số đã được thay thế bằng chứng thư mới.",
    "certificate_expired": "Chứng thư số đã hết hạn.",
    "renewal_not_open": "Chưa đến thời hạn được đề nghị gia hạn.",
    # people
    "id_number_taken": "Số CCCD này đã thuộc về một người khác trong hệ thống.",
    "id_number_elsewhere": "Số CCCD này thuộc về một người của cơ quan, đơn vị khác; cần cập nhật việc chuyển công tác trước.",
}


class _Lenient(dict):
    def __missing__(self, key: str) -> str:
        return "{" + key + "}"


def message(code: str, **params: Any) -> str | None:
    template = CATALOGUE.get(code)
    if template is None:
        return None
    return string.Formatter().vformat(template, (), _Lenient(params))


def message_for(error: RegistryError) -> str:
    """The Vietnamese message for an error: its code's, else the old wording table's, else its status's."""
    found = message(error.code, **error.params)
    if found is not None:
        return found
    from registry.i18n import vi

    translated = vi(error.detail)
    if translated != error.detail:
        return translated
    return CATALOGUE.get(type(error).default_code, CATALOGUE["bad_request"]) if not error.detail else error.detail
