"""Admin commands: `isobot users|stats|unanswered|purge|db` over bot.database."""
from __future__ import annotations

import csv
import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, datetime
from pathlib import Path

from bot.database import Database, DatabaseUnavailable, Stats, UnansweredGroup

# Admin-facing text (the agency's ISO officer reads it), kept together.
MSG = {
    "need_id": "Cần nhập Telegram ID, ví dụ: isobot users {action} 123456789",
    "added_user": "Đã thêm người dùng {id} vào danh sách được phép.",
    "added_chat": "Đã cho phép nhóm {id} dùng bot.",
    "removed_user": "Đã gỡ người dùng {id} khỏi danh sách được phép (trạng thái: bị chặn).",
    "removed_chat": "Đã gỡ nhóm {id} khỏi danh sách được phép.",
    "promoted": "Người dùng {id} giờ là quản trị viên.",
    "promote_chat": "Chỉ người dùng (ID dương) mới có thể làm quản trị viên.",
    "no_users": "Chưa có người dùng nào trong cơ sở dữ liệu.",
    "users_header": "Người dùng:",
    "users_cols": ("telegram_id", "vai trò", "trạng thái", "lần cuối", "tên"),
    "role": {"admin": "quản trị", "user": "người dùng"},
    "status": {"active": "được phép", "blocked": "bị chặn", "seen": "chưa duyệt"},
    "chat_allowed": {True: "được phép", False: "chưa duyệt"},
    "chats_header": "Nhóm chat:",
    "admin_ids_note": "(ADMIN_IDS trong cấu hình: {ids} — luôn là quản trị viên)",
    "bad_date": "Ngày không hợp lệ: {value!r} (dùng YYYY-MM-DD hoặc DD/MM/YYYY, ví dụ 2026-01-31)",
    "db_down": "Không kết nối được cơ sở dữ liệu: {error}",
    "stats_title_since": "Thống kê sử dụng từ ngày {since}",
    "stats_title_all": "Thống kê sử dụng (toàn bộ nhật ký)",
    "stats_totals": "Câu hỏi: {questions} — đã trả lời: {answered} ({rate}) — số người hỏi: {users}",
    "stats_votes": "Đánh giá: 👍 {up} / 👎 {down} ({ratio} hài lòng)",
    "stats_votes_none": "Đánh giá: chưa có lượt 👍/👎 nào",
    "stats_per_day": "Theo ngày:",
    "stats_per_day_cols": ("ngày", "câu hỏi", "trả lời", "👍", "👎"),
    "stats_top": "Câu hỏi được hỏi nhiều nhất:",
    "stats_top_row": "{count:>4} × {text} (trả lời được {answered}/{count})",
    "stats_empty": "Chưa có câu hỏi nào trong khoảng thời gian này.",
    "csv_written": "Đã ghi bảng theo ngày vào {path}",
    "unanswered_title": "Câu hỏi bot chưa trả lời được hoặc bị chấm 👎, gom theo cách hỏi giống nhau:",
    "unanswered_none": "Không có câu hỏi nào bị từ chối hay bị chấm 👎 trong khoảng thời gian này.",
    "unanswered_group": "{n}. {label}\n   {count} lần (từ chối: {declined}, 👎: {disliked}), gần nhất {last}",
    "unanswered_example": "   – {text}",
    "unanswered_hint": "Gợi ý: bổ sung tài liệu hoặc câu hỏi đáp vào corpus/ cho các nhóm đầu danh sách, rồi chạy isobot reindex.",
    "purged": "Đã xoá {n} câu hỏi (kèm đánh giá) cũ hơn {days} ngày.",
    "db_upgraded": "Cơ sở dữ liệu {url}: phiên bản {before} → {after}.",
    "db_current": "Cơ sở dữ liệu {url}: phiên bản {current} (mới nhất: {head}).",
    "db_need_to": "Cần chỉ định đích: isobot db copy --to postgresql+psycopg://user:pass@host/isobot",
    "db_copy_title": "Sao chép {src} → {dst}",
    "db_copy_cols": ("bảng", "nguồn", "đích", "checksum nguồn", "checksum đích", ""),
    "db_copy_ok": "Hoàn tất: mọi bảng khớp số dòng và checksum. Đổi DATABASE_URL sang đích rồi khởi động lại bot.",
    "db_copy_bad": "CẢNH BÁO: có bảng không khớp; đừng chuyển sang cơ sở dữ liệu đích.",
    "db_copy_source_outdated": "Không sao chép: cơ sở dữ liệu nguồn chưa ở phiên bản mới nhất ({detail}); chạy isobot db upgrade trước.",
    "db_copy_target_not_empty": "Không sao chép: cơ sở dữ liệu đích đã có dữ liệu (bảng {detail}). Thêm --replace nếu chắc chắn muốn ghi đè.",
}


def _percent(value: float | None) -> str:
    return "—" if value is None else f"{value * 100:.1f}%".replace(".", ",")


def _parse_since(value: str | None) -> date | None:
    """YYYY-MM-DD, or the Vietnamese habit DD/MM/YYYY."""
    if not value:
        return None
    if "/" in value:
        return datetime.strptime(value, "%d/%m/%Y").date()
    return date.fromisoformat(value)


@contextmanager
def _opened(settings) -> Iterator[Database]:
    """The migrated database for one command, closed afterwards whatever happens."""
    db = Database.from_settings(settings)
    try:
        db.upgrade()
        yield db
    finally:
        db.close()


def _guard(func):
    """Turn an unreachable database or a bad date into one line on stderr and exit code 1 or 2."""

    def wrapper(args, settings):
        try:
            return func(args, settings)
        except DatabaseUnavailable as exc:
            print("isobot: " + MSG["db_down"].format(error=exc), file=sys.stderr)
            return 1
        except _BadDate as exc:
            print("isobot: " + MSG["bad_date"].format(value=str(exc)), file=sys.stderr)
            return 2

    wrapper.__name__ = func.__name__
    wrapper.__doc__ = func.__doc__
    return wrapper


class _BadDate(ValueError):
    pass


def _since(args) -> date | None:
    try:
        return _parse_since(getattr(args, "since", None))
    except ValueError:
        raise _BadDate(args.since) from None


# -- users -------------------------------------------------------------------------------------


@_guard
def cmd_users(args, settings) -> int:
    """`isobot users list|add|remove|promote [ID] [--name NAME]`."""
    with _opened(settings) as db:
        if args.action == "list":
            return _list_users(db, settings)
        if args.user_id is None:
            print("isobot: " + MSG["need_id"].format(action=args.action), file=sys.stderr)
            return 2
        uid = args.user_id
        if args.action == "add":
            db.allow(uid, name=args.name or "")
            print(MSG["added_chat" if uid < 0 else "added_user"].format(id=uid))
        elif args.action == "remove":
            db.deny(uid)
            print(MSG["removed_chat" if uid < 0 else "removed_user"].format(id=uid))
        elif args.action == "promote":
            if uid < 0:
                print("isobot: " + MSG["promote_chat"], file=sys.stderr)
                return 2
            db.promote(uid)
            print(MSG["promoted"].format(id=uid))
        return 0


def _list_users(db: Database, settings) -> int:
    users = db.list_users()
    chats = [c for c in db.list_chats() if c.id < 0]
    if not users and not chats:
        print(MSG["no_users"])
    if users:
        print(MSG["users_header"])
        cols = MSG["users_cols"]
        print(f"  {cols[0]:>14}  {cols[1]:<10} {cols[2]:<10} {cols[3]:<16}  {cols[4]}")
        for u in users:
            role = MSG["role"]["admin" if u.telegram_id in settings.admin_ids else u.role]
            status = MSG["status"].get(u.status, u.status)
            seen = u.last_seen_at.strftime("%Y-%m-%d %H:%M") if u.last_seen_at else "-"
            handle = f" (@{u.username})" if u.username else ""
            print(f"  {u.telegram_id:>14}  {role:<10} {status:<10} {seen:<16}  {u.name}{handle}")
    if chats:
        print(MSG["chats_header"])
        for c in chats:
            print(f"  {c.id:>14}  {MSG['chat_allowed'][bool(c.allowed)]:<10} {c.kind:<10} {c.title}")
    if settings.admin_ids:
        print(MSG["admin_ids_note"].format(ids=", ".join(str(i) for i in settings.admin_ids)))
    return 0


# -- reports -----------------------------------------------------------------------------------


def stats_to_json(stats: Stats) -> dict:
    return {
        "since": stats.since.isoformat() if stats.since else None,
        "questions": stats.questions,
        "answered": stats.answered,
        "answered_rate": stats.answered_rate,
        "users": stats.users,
        "thumbs_up": stats.thumbs_up,
        "thumbs_down": stats.thumbs_down,
        "thumbs_up_ratio": stats.thumbs_up_ratio,
        "per_day": [
            {"day": d.day.isoformat(), "questions": d.questions, "answered": d.answered,
             "thumbs_up": d.thumbs_up, "thumbs_down": d.thumbs_down}
            for d in stats.per_day
        ],
        "top_questions": [{"text": t.text, "count": t.count, "answered": t.answered} for t in stats.top_questions],
    }


def write_stats_csv(stats: Stats, path: Path) -> None:
    with path.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["day", "questions", "answered", "answered_rate", "thumbs_up", "thumbs_down"])
        for d in stats.per_day:
            rate = f"{d.answered / d.questions:.3f}" if d.questions else ""
            writer.writerow([d.day.isoformat(), d.questions, d.answered, rate, d.thumbs_up, d.thumbs_down])


def format_stats(stats: Stats) -> str:
    lines = [MSG["stats_title_since"].format(since=stats.since.isoformat()) if stats.since else MSG["stats_title_all"]]
    if not stats.questions:
        lines.append(MSG["stats_empty"])
        return "\n".join(lines)
    lines.append(MSG["stats_totals"].format(questions=stats.questions, answered=stats.answered,
                                            rate=_percent(stats.answered_rate), users=stats.users))
    if stats.thumbs_up + stats.thumbs_down:
        lines.append(MSG["stats_votes"].format(up=stats.thumbs_up, down=stats.thumbs_down,
                                               ratio=_percent(stats.thumbs_up_ratio)))
    else:
        lines.append(MSG["stats_votes_none"])
    cols = MSG["stats_per_day_cols"]
    lines += ["", MSG["stats_per_day"], f"  {cols[0]:<10} {cols[1]:>8} {cols[2]:>8} {cols[3]:>4} {cols[4]:>4}"]
    for d in stats.per_day:
        lines.append(f"  {d.day.isoformat():<10} {d.questions:>8} {d.answered:>8} {d.thumbs_up:>4} {d.thumbs_down:>4}")
    if stats.top_questions:
        lines += ["", MSG["stats_top"]]
        for t in stats.top_questions:
            lines.append(MSG["stats_top_row"].format(count=t.count, text=t.text, answered=t.answered))
    return "\n".join(lines)


@_guard
def cmd_stats(args, settings) -> int:
    """`isobot stats [--since DATE] [--csv FILE] [--json]`."""
    since = _since(args)
    with _opened(settings) as db:
        stats = db.stats(since)
    if args.csv:
        write_stats_csv(stats, Path(args.csv))
    if args.json:
        print(json.dumps(stats_to_json(stats), ensure_ascii=False, indent=2))
    else:
        print(format_stats(stats))
        if args.csv:
            print(MSG["csv_written"].format(path=args.csv))
    return 0


def group_to_json(group: UnansweredGroup) -> dict:
    return {
        "label": group.label,
        "count": group.count,
        "declined": group.declined,
        "disliked": group.disliked,
        "examples": list(group.examples),
        "last_asked": group.last_asked.isoformat(timespec="seconds"),
        "question_ids": list(group.question_ids),
    }


def format_unanswered(groups: list[UnansweredGroup]) -> str:
    if not groups:
        return MSG["unanswered_none"]
    lines = [MSG["unanswered_title"], ""]
    for n, g in enumerate(groups, 1):
        lines.append(MSG["unanswered_group"].format(n=n, label=g.label, count=g.count, declined=g.declined,
                                                    disliked=g.disliked,
                                                    last=g.last_asked.strftime("%Y-%m-%d %H:%M")))
        lines += [MSG["unanswered_example"].format(text=t) for t in g.examples[1:4]]
    lines += ["", MSG["unanswered_hint"]]
    return "\n".join(lines)


@_guard
def cmd_unanswered(args, settings) -> int:
    """`isobot unanswered [--since DATE] [--json]`."""
    since = _since(args)
    with _opened(settings) as db:
        groups = db.unanswered(since)
    if args.json:
        print(json.dumps({"since": since.isoformat() if since else None,
                          "groups": [group_to_json(g) for g in groups]}, ensure_ascii=False, indent=2))
    else:
        print(format_unanswered(groups))
    return 0


@_guard
def cmd_purge(args, settings) -> int:
    """`isobot purge [--days N]`: apply the question-log retention period."""
    days = args.days if args.days is not None else settings.question_retention_days
    with _opened(settings) as db:
        n = db.purge_questions(days)
    print(MSG["purged"].format(n=n, days=days))
    return 0


# -- schema and data moves ---------------------------------------------------------------------


@_guard
def cmd_db(args, settings) -> int:
    """`isobot db upgrade|current|copy --to URL [--replace]`."""
    if args.action == "copy":
        return _copy(args, settings)
    db = Database.from_settings(settings)
    try:
        if args.action == "upgrade":
            before = db.current_revision()
            db.upgrade()
            print(MSG["db_upgraded"].format(url=db.url, before=before or "(trống)", after=db.current_revision()))
        else:
            print(MSG["db_current"].format(url=db.url, current=db.current_revision() or "(chưa có)",
                                           head=db.head_revision()))
        return 0
    finally:
        db.close()


def _copy(args, settings) -> int:
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    from bot.dbcopy import CopyRefused, copy_database

    if not args.target_url:
        print("isobot: " + MSG["db_need_to"], file=sys.stderr)
        return 2
    try:
        target_shown = make_url(args.target_url).render_as_string(hide_password=True)
    except ArgumentError as exc:
        print(f"isobot: --to: {exc}", file=sys.stderr)
        return 2
    source_url = settings.effective_database_url
    print(MSG["db_copy_title"].format(src=make_url(source_url).render_as_string(hide_password=True), dst=target_shown))
    try:
        results = copy_database(source_url, args.target_url, replace=getattr(args, "replace", False))
    except CopyRefused as exc:
        print("isobot: " + MSG[f"db_copy_{exc.reason}"].format(detail=exc.detail), file=sys.stderr)
        return 1
    cols = MSG["db_copy_cols"]
    print(f"  {cols[0]:<16} {cols[1]:>8} {cols[2]:>8}  {cols[3]:<16} {cols[4]:<16}")
    for r in results:
        mark = "OK" if r.ok else "KHÔNG KHỚP"
        print(f"  {r.table:<16} {r.source_rows:>8} {r.target_rows:>8}  {r.source_checksum[:16]:<16} "
              f"{r.target_checksum[:16]:<16} {mark}")
    ok = all(r.ok for r in results)
    print(MSG["db_copy_ok"] if ok else MSG["db_copy_bad"])
    return 0 if ok else 1
