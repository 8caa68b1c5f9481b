"""The message catalogue: every message a person reads, in Vietnamese, keyed by the stable `code` that
errors carry (and scripts branch on). Rewording a message here never breaks a script or a translation.

Errors keep English words for the API (`detail`, and each field's message in `errors`); pages show what
this catalogue says for the error's code and, beside each field, for the field's own code
(`RegistryError.field_codes`). A code missing here falls back to its status's message, never to English:
tests/test_messages.py checks that every code raised in the code base is here."""

from __future__ import annotations

import string
from typing import Any

from registry.errors import RegistryError

CATALOGUE: dict[str, str] = {
    # --- generic, by status (what a code not found here falls back to) ----------------------------
    "bad_request": "Yêu cầu không hợp lệ.",
    "invalid_input": "Dữ liệu không hợp lệ, vui lòng kiểm tra lại.",
    "invalid_cursor": "Liên kết trang không hợp lệ; hãy quay lại trang đầu của danh sách.",
    "form_has_errors": "Một số thông tin chưa hợp lệ, vui lòng kiểm tra các ô được đánh dấu.",
    "unauthenticated": "Vui lòng đăng nhập.",
    "forbidden": "Bạn không có quyền thực hiện thao tác này.",
    "not_permitted": "Vai trò của bạn không cho phép thao tác này.",
    "not_permitted_here": "Bạn không có quyền thực hiện thao tác này với cơ quan, đơn vị đó.",
    "not_found": "Không tìm thấy.",
    "conflict": "Trạng thái đã thay đổi; vui lòng tải lại trang.",
    "too_large": "Tệp quá lớn.",
    "too_many_requests": "Thao tác quá nhiều lần; vui lòng thử lại sau.",
    "busy": "Hệ thống đang bận; vui lòng thử lại sau ít giây.",
    "database_busy": "Hệ thống đang bận; vui lòng thử lại sau ít giây.",
    "method_not_allowed": "Phương thức này không được hỗ trợ ở đây.",
    "not_acceptable": "Không trả lời được theo định dạng được yêu cầu.",
    "unsupported_media_type": "Định dạng dữ liệu gửi lên không được hỗ trợ.",
    "http_error": "Yêu cầu không thực hiện được.",
    "internal_error": "Hệ thống gặp sự cố; lỗi đã được ghi lại, vui lòng thử lại sau.",
    "invalid_setting": "Cấu hình hệ thống không hợp lệ.",
    # --- what any input may get wrong ------------------------------------------------------------
    "required": "Bắt buộc nhập.",
    "not_text": "Phải là văn bản.",
    "not_a_number": "Phải là số.",
    "text_too_long": "Nội dung dài quá {max_length} ký tự.",
    "nul_character": "Có ký tự điều khiển (như NUL) không được phép.",
    "control_character": "Có ký tự điều khiển không được phép.",
    "integer_out_of_range": "Số quá lớn hoặc quá nhỏ.",
    "out_of_range": "Phải nằm trong khoảng từ {min} đến {max}.",
    "number_range": "Phải nằm trong khoảng từ {min} đến {max}.",
    "json_too_deep": "Dữ liệu lồng nhau quá {max} cấp.",
    "list_too_long": "Danh sách dài quá {max} mục.",
    "invalid_utf8": "Dữ liệu không phải văn bản UTF-8.",
    "malformed_json": "Dữ liệu gửi lên không đúng định dạng JSON.",
    "choose_from_list": "Chọn một giá trị trong danh sách.",
    "field_not_changeable": "Không điều chỉnh được thông tin này.",
    "changes_required": "Chọn ít nhất một thông tin cần điều chỉnh.",
    "invalid_format": "Định dạng tệp không hợp lệ.",
    "invalid_date": "Nhập ngày theo dạng năm-tháng-ngày.",
    "date_out_of_range": "Ngày nằm ngoài khoảng cho phép.",
    "date_in_future": "Ngày này ở tương lai.",
    "invalid_email": "Địa chỉ thư điện tử không hợp lệ.",
    "invalid_citizen_id": "Số CCCD gồm đúng 12 chữ số.",
    "invalid_budget_code": "Mã quan hệ ngân sách gồm đúng 7 chữ số.",
    "invalid_tax_code": "Mã số thuế gồm 10 chữ số (chi nhánh: 10-3).",
    "invalid_phone": "Số di động gồm 10 chữ số, bắt đầu bằng 0.",
    "implausible_birth_date": "Ngày sinh không hợp lý.",
    "issued_before_birth": "Ngày cấp trước ngày sinh.",
    # --- files (CSV imports, uploads) --------------------------------------------------------------
    "empty_file": "Tệp không có dòng dữ liệu nào.",
    "invalid_file": "Tệp có lỗi nên chưa nhập dòng nào; vui lòng sửa và tải lên lại.",
    "import_conflict": "Dữ liệu vừa bị thay đổi trong lúc kiểm tra tệp; vui lòng nhập lại.",
    "csv_empty": "Tệp không có người nào.",
    "csv_not_utf8": "Dòng {line}: tệp không phải văn bản UTF-8.",
    "csv_header_missing": "Dòng tiêu đề thiếu cột {columns} (cần: {expected}).",
    "csv_extra_values": "Dòng {line}: nhiều giá trị hơn số cột của dòng tiêu đề.",
    "csv_broken": "Dòng {line}: tệp CSV bị lỗi định dạng.",
    "csv_rows_invalid": "Tệp có {count} lỗi nên chưa nhập người nào; vui lòng sửa và tải lên lại.",
    "duplicate_line": "Trùng với dòng {line}.",
    # --- agencies and people ---------------------------------------------------------------------
    "no_such_agency": "Không có cơ quan, đơn vị này.",
    "no_such_person": "Không có người này trong hệ thống.",
    "works_elsewhere": "Người này công tác tại cơ quan, đơn vị khác ({agency}).",
    "person_not_found": "Không có người số {id}.",
    "person_not_in_agency": "Người này không thuộc cơ quan, đơn vị.",
    "person_departed": "{name} đã nghỉ, chuyển công tác hoặc mất.",
    "already_departed": "Việc {name} thôi công tác đã được ghi nhận trước đó.",
    "departure_date_range": "Ngày phải trong vòng {back} ngày trước đến {ahead} ngày sau hôm nay.",
    "id_number_taken": "Số CCCD này đã thuộc về một người khác trong hệ thống.",
    "id_number_elsewhere": "Số CCCD này thuộc về một người của cơ quan, đơn vị khác; cần cập nhật việc chuyển công tác trước.",
    # --- users, sign-in and passwords ------------------------------------------------------------
    "wrong_credentials": "Tên đăng nhập hoặc mật khẩu không đúng.",
    "sign_in_locked": "Đăng nhập sai quá nhiều lần. Tài khoản tạm khóa, thử lại sau {minutes} phút.",
    "login_form_expired": "Phiên đăng nhập đã hết hạn. Vui lòng nhập lại.",
    "username_taken": "Tên đăng nhập {username} đã có người dùng.",
    "person_has_user": "{name} đã có tài khoản người dùng.",
    "user_inactive": "Tài khoản {username} đã bị khóa.",
    "token_for_other_user": "Bạn chỉ được tạo mã truy cập cho chính mình.",
    "reset_link_invalid": "Đường dẫn đã được dùng, đã hết hạn hoặc không đúng.",
    "wrong_password": "Mật khẩu hiện tại không đúng.",
    "password_unchanged": "Mật khẩu mới trùng mật khẩu hiện tại.",
    "password_too_short": "Mật khẩu cần ít nhất {min_length} ký tự.",
    "passwords_differ": "Hai lần nhập mật khẩu mới không khớp nhau.",
    # --- requests and the workflow engine --------------------------------------------------------
    "request_not_found": "Không có yêu cầu số {id}.",
    "unknown_action": "Thao tác không hợp lệ.",
    "unknown_kind": "Loại yêu cầu không hợp lệ.",
    "state_changed": "Yêu cầu #{id} đang ở trạng thái «{state}», không thể «{action}» nữa.",
    "own_request": "Bạn không thể tự phê duyệt yêu cầu #{id} của mình hoặc về mình; thủ trưởng cấp trên sẽ phê duyệt.",
    "reason_required": "Cần nêu lý do.",
    "other_reason_detail": "Nêu rõ lý do.",
    "changed_concurrently": "Yêu cầu #{id} vừa được người khác thay đổi; vui lòng tải lại.",
    "invalid_id": "Số yêu cầu không hợp lệ.",
    "duplicate_item": "Yêu cầu #{id} được chọn hai lần.",
    "nothing_to_decide": "Chưa chọn yêu cầu nào.",
    "nothing_selected": "Chưa chọn yêu cầu nào.",
    "too_many_items": "Chọn tối đa {max} yêu cầu.",
    "decisions_refused": "{failed} trên {total} yêu cầu không xử lý được nên chưa ghi nhận quyết định nào: {first}",
    "not_decided_here": "Loại yêu cầu này không được quyết định tại hộp việc chung.",
    "unknown_domain": "Loại yêu cầu «{domain}» không có trong hệ thống.",
    "request_already_open": "Đã có yêu cầu #{id} ({kind}, {state}) đang xử lý; không lập thêm yêu cầu trùng.",
    "staff_self_only": "Công chức chỉ được đề nghị cho chính mình.",
    # --- certificates ----------------------------------------------------------------------------
    "unknown_certificate": "Không có chứng thư số này trong hệ thống.",
    "certificate_elsewhere": "Chứng thư số thuộc cơ quan, đơn vị khác.",
    "certificate_revoked": "Chứng thư số đã bị thu hồi.",
    "certificate_superseded": "Chứng thư số đã được thay thế bằng chứng thư mới.",
    "certificate_expired": "Chứng thư số đã hết hạn.",
    "renewal_not_open": "Chưa đến thời hạn được đề nghị gia hạn.",
    "validity_years_range": "Từ 1 đến {max} năm.",
    "receiver_required": "Cần thông tin người nhận thiết bị.",
    "org_certificate_holder": "Chứng thư số tổ chức do cơ quan, đơn vị nắm giữ; hãy chọn văn thư giữ thiết bị.",
    "custodian_only_for_org": "Chỉ chứng thư số tổ chức mới có người giữ thiết bị.",
    "certificate_file_empty": "Tệp trống.",
    "not_a_certificate": "Tệp không phải chứng thư số: cần tệp PEM, DER hoặc gói PKCS#7 (.p7b).",
    "not_a_certificate_format": "Tệp không phải chứng thư số mà là {what}.",
    # the trust store and verification
    "invalid_moment": "Thời điểm không hợp lệ: nhập dạng năm-tháng-ngày, ví dụ 2026-01-31 hoặc 2026-01-31T08:00:00+07:00 (từ năm 1900 đến 2199).",
    "one_certificate_only": "Tệp chứa nhiều chứng thư số; mỗi lần chỉ tải lên một chứng thư.",
    "not_a_ca": "Đây không phải chứng thư của tổ chức chứng thực (CA): thiếu BasicConstraints CA=TRUE.",
    "not_a_crl": "Tệp không phải danh sách chứng thư bị thu hồi (CRL) đọc được; cần PEM hoặc DER.",
    "crl_without_next_update": "CRL không ghi thời điểm cập nhật tiếp theo (nextUpdate) nên không dùng được.",
    "crl_expired": "CRL đã hết hiệu lực (đã quá thời điểm cập nhật tiếp theo); cần bản mới của tổ chức chứng thực.",
    "crl_from_future": "CRL ghi ngày phát hành ở tương lai.",
    "crl_signature_unknown": "Chữ ký của CRL không do tổ chức chứng thực nào trong kho tin cậy tạo ra (CRL giả mạo, hoặc cần tải lên chứng thư CA đã ký nó trước).",
    "crl_older_than_current": "Đã có CRL mới hơn của tổ chức chứng thực này; không có gì thay đổi.",
    "certificate_not_verified": "Chứng thư số không qua kiểm tra ({status}): {detail} Chỉ quản trị hệ thống mới được nhập khi đã ghi rõ lý do.",
    "verify_rate_limited": "Bạn đã kiểm tra quá nhiều chứng thư trong một phút; vui lòng thử lại sau ít phút.",
    "too_many_certificates": "Tệp chứa {count} chứng thư số; mỗi lần nhập tối đa {max}.",
    "pem_truncated": "Nội dung PEM bị cắt cụt: thiếu dòng END tương ứng.",
    "pem_private_key": "Khối PEM thứ {number} là khóa bí mật; hệ thống không bao giờ nhận khóa bí mật, chỉ tải lên chứng thư số.",
    "pem_csr": "Khối PEM thứ {number} là yêu cầu cấp chứng thư số (CSR), không phải chứng thư số.",
    "pem_crl": "Khối PEM thứ {number} là danh sách thu hồi (CRL), không phải chứng thư số.",
    "pem_public_key": "Khối PEM thứ {number} chỉ là khóa công khai, không phải chứng thư số.",
    "pem_trusted_certificate": "Khối PEM thứ {number} là TRUSTED CERTIFICATE của OpenSSL; hãy xuất ra chứng thư số thông thường.",
    "pem_not_certificate": "Khối PEM thứ {number} không phải chứng thư số.",
    "pem_bad_base64": "Khối PEM thứ {number} không phải base64 hợp lệ.",
    "der_truncated": "Dữ liệu DER bị cắt cụt.",
    "der_trailing_bytes": "Có {count} byte thừa sau dữ liệu DER.",
    "malformed_certificate": "Chứng thư số không đúng cấu trúc X.509.",
    "pkcs7_unreadable": "Không đọc được gói PKCS#7.",
    "pkcs7_empty": "Gói PKCS#7 không chứa chứng thư số nào.",
    "certificate_field_too_long": "Một trường của chứng thư số dài quá {max} ký tự.",
    "custodian_needs_agency": "Cần chọn cơ quan, đơn vị mà người giữ thiết bị quản lý chứng thư số.",
    # --- batches to the CA and handover ----------------------------------------------------------
    "batch_not_draft": "Danh sách số {id} đã ở trạng thái «{state}», không sửa được nữa.",
    "batch_empty": "Danh sách số {id} chưa có yêu cầu nào.",
    "batch_items_refused": "Có yêu cầu không đưa vào danh sách được nên chưa yêu cầu nào được đưa vào: {first}",
    "not_in_batch": "Yêu cầu #{id} không thuộc danh sách số {batch}.",
    "nothing_to_hand_over": "Danh sách số {batch} không có kết quả nào cho {agency}.",
    "not_delivered": "Yêu cầu #{id} chưa được bàn giao cho đơn vị.",
    "already_recorded": "Việc này của yêu cầu #{id} đã được ghi nhận trước đó.",
    # --- what the CA returned, and the built-in test CA ---------------------------------------------
    "results_file_invalid": "Tệp «{name}» không phải chứng thư số (PEM, DER, PKCS#7) hay tệp ZIP chứa chứng thư; chưa nhập gì.",
    "zip_unreadable": "Không đọc được tệp nén «{name}»; chưa nhập gì.",
    "zip_too_many_files": "Tệp nén «{name}» chứa quá {max} tệp.",
    "zip_unsafe_path": "Tệp nén «{name}» chứa đường dẫn không an toàn «{path}»; chưa nhập gì.",
    "zip_encrypted": "Tệp nén «{name}» có mật khẩu; hãy gửi tệp không mã hóa.",
    "zip_bomb": "Tệp nén «{name}» bung ra quá lớn ở «{path}»; chưa nhập gì.",
    "zip_nested": "Tệp nén «{name}» chứa tệp nén khác; hãy giải nén trước.",
    "nothing_to_import": "Chưa chọn tệp chứng thư hay kết quả nào để nhập.",
    "batch_not_sent": "Danh sách số {id} đang ở trạng thái «{state}», chưa gửi CA.",
    "batch_results_complete": "Danh sách số {id} đã nhận đủ kết quả từ CA.",
    "database_not_empty": "Cơ sở dữ liệu đã có dữ liệu; hãy sinh dữ liệu vào một cơ sở dữ liệu trống đã cập nhật cấu trúc.",
    "serial_not_in_batch": "Danh sách số {batch} không có yêu cầu nào về chứng thư có số hiệu {serial}.",
    "result_already_recorded": "Kết quả của yêu cầu #{id} đã được ghi nhận («{state}»); không ghi khác đi.",
    "result_contradicts": "Yêu cầu #{id} vừa được báo là CA không xử lý được, vừa có chứng thư trả về.",
    "result_without_certificate": "Yêu cầu #{id} được báo là CA đã xử lý nhưng không có chứng thư trả về cho yêu cầu đó.",
    "dev_ca_disabled": "CA thử nghiệm chưa được bật (chạy với --demo hoặc REGISTRY_DEV_CA=1).",
    "no_token_to_return": "Yêu cầu #{id} không có thiết bị cần hoàn trả.",
    # --- specimens, mailboxes and the public portal ------------------------------------------------
    "image_missing": "Chưa chọn tệp ảnh.",
    "image_too_large": "Ảnh lớn hơn 2 MB.",
    "image_format": "Chỉ nhận ảnh PNG hoặc JPEG (tệp này không phải PNG hay JPEG, dù tên tệp có thể ghi vậy).",
    "image_too_big": "Ảnh {width}×{height} điểm ảnh, vượt quá 4000×4000.",
    "image_bomb": "Ảnh có quá nhiều điểm ảnh (nghi là ảnh bom giải nén).",
    "image_corrupt": "Tệp ảnh bị hỏng hoặc không đọc được (có thể bị cắt cụt).",
    "invalid_kind": "Chọn loại mẫu: của cơ quan hoặc của lãnh đạo.",
    "certificate_required": "Nhập dấu vân tay SHA-256 của chứng thư số.",
    "certificate_unknown": "Không có chứng thư số với dấu vân tay này trong cơ sở dữ liệu.",
    "certificate_wrong_kind": "Mẫu của cơ quan dùng chứng thư số tổ chức; mẫu của lãnh đạo dùng chứng thư số cá nhân.",
    "certificate_of_another_agency": "Chứng thư số này thuộc cơ quan, đơn vị khác.",
    "certificate_of_another_person": "Chứng thư số này cấp cho {owner}, không phải {full_name}.",
    "certificate_not_valid": "Chứng thư số của mẫu không còn hiệu lực ({status}), không thể công bố.",
    "markup_in_name": "Không được chứa các ký tự đánh dấu như <, >, dấu ngoặc nhọn, \\ hoặc `.",
    "mailbox_exists": "Hộp thư {address} đã được gửi hoặc đã công bố cho cơ quan, đơn vị này (#{id}).",
    "multipart_required": "Gửi biểu mẫu multipart/form-data kèm tệp ảnh.",
    "invalid_source": "Nguồn đề xuất không hợp lệ.",
    "agency_not_found": "Không có cơ quan, đơn vị {agency_code}.",
    "certificate_not_found": "Không có chứng thư số đã công bố với dấu vân tay này.",
    # --- accounts on other systems ---------------------------------------------------------------
    "account_not_found": "Không có tài khoản số {id}.",
    "account_exists": "Tài khoản {name} đã có.",
    "not_an_active_mailbox": "Tài khoản {name} không phải hộp thư đang sử dụng nên không đề nghị công bố được.",
    "account_elsewhere": "Tài khoản này thuộc cơ quan, đơn vị khác.",
    "invalid_login": "Tên tài khoản gồm 2 đến 64 chữ cái, chữ số, dấu chấm, gạch ngang hoặc gạch dưới.",
}


class _Lenient(dict):
    """A value the raiser did not give is shown as an ellipsis, never as `{name}`."""

    def __missing__(self, key: str) -> str:
        return "…"


def message(code: str, **params: Any) -> str | None:
    template = CATALOGUE.get(code)
    if template is None:
        return None
    return string.Formatter().vformat(template, (), _Lenient(params))


def message_for(error: RegistryError) -> str:
    """The Vietnamese message for an error: its code's, else its kind's (by status)."""
    found = message(error.code, **error.params)
    if found is not None:
        return found
    return CATALOGUE.get(type(error).default_code, CATALOGUE["bad_request"])


def message_for_code(code: str | None, status: int, **params: Any) -> str:
    """The Vietnamese message for a problem known by its code and status (errors the framework raised)."""
    from registry.http import STATUS_CODES

    return (message(code, **params) if code else None) or message(STATUS_CODES.get(status, "http_error")) \
        or CATALOGUE["http_error"]


def field_message(code: str, params: dict[str, Any] | None = None) -> str:
    return message(code, **(params or {})) or CATALOGUE["invalid_input"]


def field_messages(error: RegistryError) -> dict[str, str]:
    """What a page shows beside each field of a refused form, in Vietnamese."""
    return {field: field_message(*error.field_codes.get(field, (error.code, error.params))) for field in error.fields}
