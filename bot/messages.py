"""Every user-facing Vietnamese string of the bot, in one place.

Strings that end up in Telegram HTML are plain text here; bot.replies escapes them. The few that
carry markup (bold labels) say so in their name (``*_HTML``) and only interpolate escaped values.
"""
from __future__ import annotations

BOT_NAME = "Trợ lý ISO"

WELCOME = (
    "Xin chào {name}! Tôi là {bot_name}, trợ lý tra cứu TCVN ISO 9001:2015, các quy trình ISO "
    "của cơ quan và việc chuyển đổi từ phiên bản 2008 sang 2015.\n\n"
    "Hãy gõ câu hỏi bằng tiếng Việt, ví dụ: “kiểm soát tài liệu như thế nào?”. "
    "Tôi sẽ trả lời kèm trích dẫn điều, mục cụ thể để anh/chị đối chiếu.\n\n"
    "Gõ /help để xem hướng dẫn và các lệnh."
)

HELP = (
    "Cách dùng {bot_name}:\n\n"
    "• Gõ câu hỏi bình thường, có dấu hoặc không dấu đều được. Ví dụ:\n"
    "  – Kiểm soát thông tin dạng văn bản gồm những gì?\n"
    "  – danh gia noi bo bao lau mot lan\n"
    "  – Rủi ro và cơ hội cần xác định ra sao?\n"
    "  – Bản 2015 còn yêu cầu sổ tay chất lượng không?\n\n"
    "• Các lệnh:\n"
    "  /dieu 7.5.3 – xem toàn văn một điều của TCVN ISO 9001:2015\n"
    "  /dieu 4.2.3 2008 – điều của bản 2008 tương ứng với điều nào của bản 2015\n"
    "  /faq – hỏi đáp về chuyển đổi từ bản 2008 sang 2015\n"
    "  /quytrinh – danh sách quy trình ISO đang áp dụng\n"
    "  /help – hướng dẫn này\n\n"
    "Trong nhóm, hãy nhắc tên tôi (@{username}) hoặc trả lời tin nhắn của tôi để đặt câu hỏi."
)

# setMyCommands descriptions (3–256 characters each).
COMMAND_DESCRIPTIONS = {
    "start": "Bắt đầu trò chuyện",
    "help": "Hướng dẫn sử dụng và ví dụ câu hỏi",
    "dieu": "Xem một điều của ISO 9001:2015, ví dụ /dieu 7.5.3",
    "faq": "Hỏi đáp chuyển đổi ISO 9001:2008 sang 2015",
    "quytrinh": "Danh sách quy trình ISO đang áp dụng",
}
ADMIN_COMMAND_DESCRIPTIONS = {
    "reindex": "Cập nhật lại chỉ mục tìm kiếm (quản trị)",
    "stats": "Thống kê sử dụng (quản trị)",
    "allow": "Cấp quyền cho người dùng hoặc nhóm (quản trị)",
    "deny": "Thu hồi quyền (quản trị)",
}

TYPING_PLACEHOLDER = "Đang tra cứu…"

ANSWER_INTRO = "Các đoạn liên quan nhất đến câu hỏi của anh/chị:"
MORE_INTRO = "Các kết quả tiếp theo (từ {start} đến {end}):"
NO_MORE_RESULTS = "Không còn kết quả nào khác cho câu hỏi này."
RESULTS_EXPIRED = "Kết quả này đã cũ. Anh/chị vui lòng gửi lại câu hỏi."
MAPPING_NOTE = "Điều {clause_2008} của bản 2008 nay tương ứng với điều {clauses_2015} của bản 2015."

NOT_ANSWERED = (
    "Xin lỗi, tôi chưa tìm thấy nội dung đủ sát với câu hỏi này trong tài liệu ISO của cơ quan, "
    "nên không muốn đưa ra trích dẫn có thể sai."
)
NOT_ANSWERED_TIPS = (
    "Anh/chị có thể thử:\n"
    "• gõ có dấu, ví dụ “kiểm soát tài liệu” thay cho “kiem soat tai lieu”;\n"
    "• nêu số điều, ví dụ “điều 7.5.3” hoặc dùng lệnh /dieu 7.5.3;\n"
    "• dùng từ ngữ của tiêu chuẩn, ví dụ “đánh giá nội bộ”, “hành động khắc phục”."
)
CLOSEST_TOPICS = "Các chủ đề gần nhất:"

BUTTON_MORE = "Xem thêm kết quả"
BUTTON_FULL_CLAUSE = "Xem toàn văn điều {clause}"
BUTTON_FULL_SECTION = "Xem toàn văn mục"
BUTTON_RELATED = "Điều khoản liên quan"
BUTTON_LIKE = "👍"
BUTTON_DISLIKE = "👎"
BUTTON_PREV_PAGE = "◀ Trang trước"
BUTTON_NEXT_PAGE = "Trang sau ▶"
BUTTON_OPEN_DOCUMENT = "Xem quy trình {code}"

FEEDBACK_THANKS_UP = "Cảm ơn anh/chị đã đánh giá 👍"
FEEDBACK_THANKS_DOWN = "Cảm ơn anh/chị. Chúng tôi sẽ xem lại câu trả lời này."
FEEDBACK_NOT_RECORDED = "Chưa ghi nhận được đánh giá, anh/chị thử lại sau nhé."

RELATED_TITLE = "Các điều khoản liên quan đến {title}:"
NO_RELATED = "Chưa tìm thấy điều khoản liên quan."
PASSAGE_GONE = "Không tìm thấy đoạn này nữa; có thể tài liệu vừa được cập nhật. Anh/chị vui lòng hỏi lại."

DIEU_USAGE = (
    "Anh/chị gõ số điều sau lệnh, ví dụ:\n"
    "/dieu 7.5.3 – điều 7.5.3 của TCVN ISO 9001:2015\n"
    "/dieu 4.2.3 2008 – điều 4.2.3 của bản 2008 tương ứng với điều nào của bản 2015"
)
DIEU_NOT_FOUND = "Không tìm thấy điều {clause} trong TCVN ISO 9001:2015. Anh/chị kiểm tra lại số điều giúp tôi."
DIEU_2008_NOT_FOUND = "Không tìm thấy điều {clause} của bản 2008 trong bảng tương ứng."
DIEU_2008_TITLE = "Điều {clause} của bản ISO 9001:2008 tương ứng với:"

FAQ_TITLE = "Hỏi đáp chuyển đổi ISO 9001:2008 → 2015 (trang {page}/{pages}). Chọn một câu hỏi:"
FAQ_EMPTY = "Hiện chưa có câu hỏi đáp nào về chuyển đổi."

PROCEDURES_TITLE = "Các quy trình ISO đang áp dụng:"
PROCEDURES_EMPTY = "Hiện chưa có quy trình nào trong kho tài liệu."
PROCEDURE_LINE = "{code} – {title} (lần ban hành {version}, hiệu lực {date})"

UNSUPPORTED_MESSAGE = (
    "Tôi chỉ đọc được tin nhắn chữ. Anh/chị vui lòng gõ câu hỏi bằng chữ, ví dụ: "
    "“kiểm soát tài liệu như thế nào?”."
)
EMPTY_QUESTION = "Anh/chị chưa gõ câu hỏi. Ví dụ: “đánh giá nội bộ cần làm gì?”."
NO_WORDS_QUESTION = "Tôi chưa hiểu câu hỏi. Anh/chị vui lòng gõ câu hỏi bằng chữ, ví dụ: “quản lý rủi ro”."
TOO_LONG_QUESTION = (
    "Câu hỏi dài quá ({length} ký tự). Anh/chị vui lòng rút gọn dưới {limit} ký tự, "
    "nêu ý chính cần hỏi."
)
GROUP_HINT = "Anh/chị hãy gõ câu hỏi sau tên tôi, ví dụ: @{username} kiểm soát tài liệu."

FLOOD_NOTICE = (
    "Anh/chị gửi nhanh quá, tôi xin phép tạm dừng trả lời trong giây lát. "
    "Vui lòng chờ khoảng {seconds} giây rồi hỏi tiếp."
)
FLOOD_TOAST = "Anh/chị thao tác nhanh quá, vui lòng chờ giây lát."

ACCESS_DENIED = (
    "Xin lỗi, anh/chị chưa được cấp quyền sử dụng trợ lý này.\n"
    "Mã Telegram của anh/chị là: {user_id}\n"
    "Vui lòng gửi mã này cho cán bộ phụ trách ISO của cơ quan để được cấp quyền."
)
ACCESS_DENIED_GROUP = (
    "Xin lỗi, nhóm này chưa được cấp quyền sử dụng trợ lý.\n"
    "Mã nhóm: {chat_id} – mã Telegram của anh/chị: {user_id}\n"
    "Vui lòng gửi các mã này cho cán bộ phụ trách ISO của cơ quan."
)
ACCESS_DENIED_SHORT = "Anh/chị chưa được cấp quyền. Mã Telegram: {user_id}"
INLINE_DENIED_TITLE = "Chưa được cấp quyền sử dụng"
INLINE_NO_RESULT_TITLE = "Chưa tìm thấy nội dung phù hợp"
INLINE_NO_RESULT_TEXT = "Thử gõ có dấu hoặc nêu số điều, ví dụ “điều 7.5.3”."
INLINE_EMPTY_TITLE = "Gõ câu hỏi về ISO 9001:2015"
INLINE_EMPTY_TEXT = "Ví dụ: @{username} kiểm soát tài liệu"

ADMIN_ONLY = "Lệnh này chỉ dành cho quản trị viên."
ALLOW_USAGE = "Cách dùng: /allow MÃ_TELEGRAM (mã người dùng, hoặc mã nhóm – số âm)."
DENY_USAGE = "Cách dùng: /deny MÃ_TELEGRAM"
ALLOWED = "Đã cấp quyền cho {target_id}."
DENIED = "Đã thu hồi quyền của {target_id}."
REINDEX_STARTED = "Đang cập nhật chỉ mục tìm kiếm, việc này có thể mất vài phút…"
REINDEX_BUSY = "Đang có một lần cập nhật chỉ mục chạy, anh/chị chờ xong rồi thử lại."
REINDEX_DONE = (
    "Đã cập nhật chỉ mục (bản {build_id}) trong {seconds:.1f} giây.\n"
    "Tài liệu: {documents} – đoạn: {passages}\n"
    "Thêm: {added} – sửa: {changed} – xoá: {removed} – tính lại vector: {embedded}\n"
    "Cảnh báo: {warnings}"
)
REINDEX_FAILED = "Cập nhật chỉ mục không thành công, chỉ mục cũ vẫn được giữ nguyên.\nLý do: {reason}"
STATS_TITLE = "Thống kê sử dụng{since}:"
STATS_SINCE = " từ {date}"
STATS_LINE = "{day}: {questions} câu hỏi, trả lời được {answered_pct:.0f}%"
STATS_TOTALS = "Tổng: {questions} câu hỏi – trả lời được {answered_pct:.0f}% – 👍 {likes} – 👎 {dislikes}"
STATS_TOP = "Câu hỏi nhiều nhất:"
STATS_EMPTY = "Chưa có câu hỏi nào."

DATABASE_TROUBLE = "Xin lỗi, hệ thống lưu trữ đang tạm gián đoạn. Anh/chị vui lòng thử lại sau ít phút."
INTERNAL_ERROR = "Xin lỗi, đã có lỗi khi xử lý yêu cầu. Anh/chị vui lòng thử lại."
SEARCH_UNAVAILABLE = (
    "Xin lỗi, bộ tra cứu chưa sẵn sàng (chưa có chỉ mục tài liệu). "
    "Quản trị viên cần chạy lệnh cập nhật chỉ mục."
)

# Terminal chat.
TERMINAL_PROMPT = "Bạn hỏi: "
TERMINAL_BANNER = "Trợ lý ISO – trò chuyện trong cửa sổ lệnh. Gõ câu hỏi rồi Enter; Ctrl+D để thoát."
TERMINAL_BYE = "Tạm biệt!"
TERMINAL_NO_TOKEN = "isobot: chưa đặt TELEGRAM_BOT_TOKEN nên chạy chế độ hỏi đáp trong cửa sổ lệnh (cùng cách trả lời như trên Telegram)."
