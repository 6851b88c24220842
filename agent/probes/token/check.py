"""``commune-agent check`` lines of the ``token`` probe, in Vietnamese."""

from __future__ import annotations

from datetime import UTC, datetime

from agent.probes.base import CheckLine
from agent.probes.token.results import TokenResult
from agent.wire import Point
from common import vnformat

SECTION = "Chữ ký số"
WARN_DAYS = 30.0
"""``commune-agent check`` warns about certificates expiring within this many days."""


def _vn_date(unix_s: float) -> str:
    return vnformat.date(datetime.fromtimestamp(unix_s, UTC))


def check_line(p: Point) -> CheckLine | None:
    f, tg = p.f, p.tg
    result = str(f.get("result", ""))
    module = tg.get("module", "")
    if p.m == "token_module":
        if result == TokenResult.OK:
            return None
        if result == TokenResult.CA_BUNDLE_ERROR:
            return CheckLine(SECTION, module, "warn",
                             "Không đọc được tệp chứng thư gốc trong cấu hình nên chưa kiểm tra được chứng thư. "
                             "Báo cán bộ CNTT kiểm tra cấu hình.")
        return CheckLine(SECTION, module, "fail",
                         f"Không dùng được phần mềm USB token {module}. Cài lại phần mềm USB token của nhà cung "
                         "cấp chữ ký số.")
    if p.m == "token":
        if result == TokenResult.NO_TOKEN:
            return CheckLine(SECTION, module, "fail",
                             "Không thấy USB token chữ ký số. Cắm USB token vào máy; nếu đã cắm, thử cổng USB khác, "
                             "rồi cài lại phần mềm (driver) token của nhà cung cấp.")
        target = f"{tg.get('token', '')} ({module})"
        if result == TokenResult.NO_CERTIFICATE:
            return CheckLine(SECTION, target, "fail",
                             "USB token không có chứng thư số nào. Liên hệ nhà cung cấp chữ ký số (CA) để cấp lại.")
        return CheckLine(SECTION, target, "ok", "")
    if p.m == "token_cert":
        target = f"{tg.get('subject', '')} ({tg.get('issuer', module)})"
        na = f.get("not_after")
        until = _vn_date(float(na)) if isinstance(na, int | float) else ""
        days = f.get("days_left")
        if result == TokenResult.EXPIRED:
            return CheckLine(SECTION, target, "fail",
                             f"Chứng thư số đã hết hạn ngày {until}: không ký được. Liên hệ nhà cung cấp chữ ký số "
                             "(CA) để gia hạn.")
        if result == TokenResult.NOT_YET_VALID:
            return CheckLine(SECTION, target, "fail",
                             "Chứng thư số chưa đến ngày có hiệu lực. Kiểm tra ngày giờ của máy tính; nếu đúng, "
                             "liên hệ nhà cung cấp chữ ký số.")
        if result == TokenResult.CHAIN_INVALID:
            return CheckLine(SECTION, target, "fail",
                             "Không xác thực được chứng thư số với chứng thư gốc của CA. Cài chứng thư gốc của CA "
                             "hoặc liên hệ nhà cung cấp chữ ký số.")
        if result == TokenResult.BAD_CERTIFICATE:
            return CheckLine(SECTION, target, "fail", "Chứng thư số trên USB token bị hỏng. Liên hệ nhà cung cấp chữ ký số.")
        if isinstance(days, int | float) and days < WARN_DAYS:
            n = max(0, int(days))
            return CheckLine(SECTION, target, "warn",
                             f"Chứng thư số sẽ hết hạn sau {n} ngày (ngày {until}). Liên hệ nhà cung cấp chữ ký số "
                             "(CA) để gia hạn trước khi hết hạn.")
        if f.get("can_sign") == 0:
            return CheckLine(SECTION, target, "warn",
                             "Chứng thư này không được phép dùng để ký (key usage). Dùng chứng thư ký số khác trên token.")
        return CheckLine(SECTION, target, "ok", "")
    if p.m == "token_endpoint":
        if result == TokenResult.OK:
            return None
        what = "máy chủ kiểm tra trạng thái chứng thư (OCSP)" if tg.get("kind") == "ocsp" else "danh sách thu hồi (CRL)"
        if result == TokenResult.REVOKED:
            return CheckLine(SECTION, tg.get("url", ""), "fail",
                             "Chứng thư số đã bị nhà cung cấp thu hồi: không ký được. Liên hệ nhà cung cấp chữ ký số.")
        return CheckLine(SECTION, tg.get("url", ""), "fail",
                         f"Không kết nối được {what} của nhà cung cấp chữ ký số, nên có thể không ký được. "
                         "Kiểm tra kết nối Internet; nếu các trang khác vẫn vào được, báo nhà cung cấp chữ ký số.")
    if p.m == "token_middleware":
        if result == TokenResult.OK:
            return CheckLine(SECTION, tg.get("name", ""), "ok", "")
        return CheckLine(SECTION, tg.get("name", ""), "fail",
                         f"Phần mềm ký số {tg.get('name', '')} không chạy. Mở lại phần mềm ký số hoặc khởi động "
                         "lại máy; nếu vẫn lỗi, cài lại phần mềm của nhà cung cấp.")
    return None
