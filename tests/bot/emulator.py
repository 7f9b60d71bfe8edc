"""A small Telegram Bot API emulator for end-to-end tests (aiohttp on 127.0.0.1, random port).

It speaks the Bot API's JSON types to the real bot over real HTTP: long polling with getUpdates,
or webhook delivery with the secret header; it validates HTML like Telegram does (unknown or
unbalanced tags, stray '<' or '&' -> 400 "can't parse entities"; over 4,096 characters -> 400
"message is too long") and can be told to answer 429 (retry_after), 500, or to delay a method.

The emulator runs its own event loop in a background thread; the test API (send_text, press,
inline, wait_for …) is synchronous and thread-safe, so tests are plain functions.
"""
from __future__ import annotations

import asyncio
import itertools
import json
import logging
import re
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Callable

import aiohttp
from aiohttp import web

TEXT_LIMIT = 4096
CALLBACK_DATA_LIMIT = 64
ANSWER_CALLBACK_TEXT_LIMIT = 200

# Parameters sent as JSON-encoded strings in form posts; everything else stays a string.
_JSON_PARAMS = {
    "chat_id", "message_id", "reply_markup", "commands", "results", "reply_parameters", "offset", "limit",
    "timeout", "cache_time", "show_alert", "allowed_updates", "link_preview_options", "is_personal",
    "disable_notification", "reply_to_message_id", "drop_pending_updates", "max_connections", "scope",
    "entities", "protect_content", "button", "disable_web_page_preview", "allow_sending_without_reply",
    "message_thread_id",
}


class TelegramError(Exception):
    def __init__(self, code: int, description: str, parameters: dict | None = None):
        super().__init__(description)
        self.code, self.description, self.parameters = code, description, parameters


# --------------------------------------------------------------------------- HTML like Telegram
_ALLOWED_TAGS = {"b", "strong", "i", "em", "u", "ins", "s", "strike", "del", "span", "tg-spoiler", "a",
                 "code", "pre", "blockquote", "tg-emoji"}
_TAG = re.compile(r"<(/?)([a-zA-Z][a-zA-Z0-9-]*)((?:\s+[a-zA-Z-]+(?:\s*=\s*(?:\"[^\"]*\"|'[^']*'|[^\s>\"']+))?)*)\s*>")
_ENTITY = re.compile(r"&(lt|gt|amp|quot|#\d{1,7}|#x[0-9a-fA-F]{1,6});")
_NAMED = {"lt": "<", "gt": ">", "amp": "&", "quot": '"'}


def utf16_len(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def parse_html(text: str) -> tuple[str, list[dict]]:
    """Telegram's HTML parse mode: returns (plain text, entities) or raises TelegramError(400)."""
    out: list[str] = []
    stack: list[tuple[str, int]] = []
    entities: list[dict] = []
    i = 0
    pos16 = 0
    while i < len(text):
        ch = text[i]
        if ch == "<":
            m = _TAG.match(text, i)
            if not m:
                raise TelegramError(400, f"Bad Request: can't parse entities: Unsupported start tag at byte offset {len(text[:i].encode())}")
            closing, name = m.group(1) == "/", m.group(2).lower()
            if name not in _ALLOWED_TAGS:
                raise TelegramError(400, f'Bad Request: can\'t parse entities: Unsupported start tag "{name}" at byte offset {len(text[:i].encode())}')
            if closing:
                if not stack or stack[-1][0] != name:
                    raise TelegramError(400, f'Bad Request: can\'t parse entities: Unexpected end tag at byte offset {len(text[:i].encode())}')
                open_name, start16 = stack.pop()
                entities.append({"type": open_name, "offset": start16, "length": pos16 - start16})
            else:
                if name == "a" and "href" not in m.group(3):
                    raise TelegramError(400, "Bad Request: can't parse entities: Can't find href in a tag")
                stack.append((name, pos16))
            i = m.end()
            continue
        if ch == "&":
            m = _ENTITY.match(text, i)
            if not m:
                raise TelegramError(400, f"Bad Request: can't parse entities: Unsupported HTML entity at byte offset {len(text[:i].encode())}")
            ref = m.group(1)
            if ref in _NAMED:
                decoded = _NAMED[ref]
            elif ref.startswith("#x"):
                decoded = chr(int(ref[2:], 16))
            else:
                decoded = chr(int(ref[1:]))
            out.append(decoded)
            pos16 += utf16_len(decoded)
            i = m.end()
            continue
        if ch == ">":
            # Telegram tolerates a bare '>' but we count it as text.
            pass
        out.append(ch)
        pos16 += utf16_len(ch)
        i += 1
    if stack:
        raise TelegramError(400, f'Bad Request: can\'t parse entities: Can\'t find end tag corresponding to start tag "{stack[-1][0]}"')
    return "".join(out), entities


def check_text(text: Any, parse_mode: str | None) -> tuple[str, list[dict]]:
    if not isinstance(text, str) or not text.strip():
        raise TelegramError(400, "Bad Request: message text is empty")
    plain, entities = parse_html(text) if (parse_mode or "").upper() == "HTML" else (text, [])
    if not plain.strip():
        raise TelegramError(400, "Bad Request: message text is empty")
    if utf16_len(plain) > TEXT_LIMIT:
        raise TelegramError(400, "Bad Request: message is too long")
    return plain, entities


def check_keyboard(markup: Any) -> dict | None:
    if markup in (None, ""):
        return None
    if not isinstance(markup, dict) or "inline_keyboard" not in markup:
        raise TelegramError(400, "Bad Request: can't parse reply keyboard markup JSON object")
    for row in markup["inline_keyboard"]:
        for button in row:
            if not button.get("text"):
                raise TelegramError(400, "Bad Request: text buttons are unallowed in the inline keyboard")
            data = button.get("callback_data")
            if data is not None and not (1 <= len(data.encode("utf-8")) <= CALLBACK_DATA_LIMIT):
                raise TelegramError(400, "Bad Request: BUTTON_DATA_INVALID")
    return markup


# --------------------------------------------------------------------------- recorded calls
@dataclass
class Call:
    """One request the bot made, with what the emulator answered."""

    seq: int
    method: str
    params: dict
    status: int
    response: dict
    at: float = field(default_factory=time.monotonic)

    @property
    def ok(self) -> bool:
        return self.status == 200

    @property
    def chat_id(self):
        return self.params.get("chat_id")

    @property
    def text(self) -> str:
        return self.params.get("text", "")


@dataclass
class Fault:
    status: int
    retry_after: int = 1
    times: int = 1


class BotAPIEmulator:
    """One bot's view of Telegram: its token, its updates, the chats it talks in."""

    def __init__(self, token: str = "123456789:TEST-emulator-token", username: str = "isobot_test_bot"):
        self.token = token
        self.bot_id = int(token.split(":")[0])
        self.username = username
        self.port: int | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._runner: web.AppRunner | None = None
        self._session: aiohttp.ClientSession | None = None
        # Loop-side state.
        self._updates: list[dict] = []
        self._update_ids = itertools.count(1)
        self._new_update: asyncio.Condition | None = None
        self._closing = False
        self._message_ids: dict[int, itertools.count] = {}
        self.messages: dict[tuple[int, int], dict] = {}
        self.chats: dict[int, dict] = {}
        self.commands: dict[str, list[dict]] = {}  # by scope (JSON)
        self.webhook: dict = {"url": "", "secret_token": None}
        self.webhook_deliveries: list[tuple[int, int]] = []  # (update_id, HTTP status)
        self._callback_ids = itertools.count(1)
        self._inline_ids = itertools.count(1)
        self._pending_callbacks: set[str] = set()
        self._pending_inline: set[str] = set()
        self.faults: dict[str, list[Fault]] = {}
        self.delays: dict[tuple, float] = {}
        # Shared with the test thread.
        self._calls: list[Call] = []
        self._calls_cond = threading.Condition()
        self._seq = itertools.count(1)

    # ----------------------------------------------------------------------- lifecycle
    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/bot"

    def start(self) -> "BotAPIEmulator":
        ready = threading.Event()

        def serve():
            self._loop = asyncio.new_event_loop()
            asyncio.set_event_loop(self._loop)
            self._loop.run_until_complete(self._start_server())
            ready.set()
            self._loop.run_forever()

        self._thread = threading.Thread(target=serve, name="bot-api-emulator", daemon=True)
        self._thread.start()
        if not ready.wait(10):
            raise RuntimeError("emulator did not start")
        return self

    async def _start_server(self) -> None:
        # Requests the bot abandoned mid-way (e.g. a cancelled task) show up here as server errors.
        self.server_errors: list[str] = []
        emulator = self

        class _Errors(logging.Handler):
            def emit(self, record):
                if record.levelno >= logging.ERROR and threading.current_thread() is emulator._thread:
                    emulator.server_errors.append(record.getMessage() + (f" {record.exc_info[1]!r}" if record.exc_info else ""))

        self._log_handler = _Errors()
        logging.getLogger("aiohttp.server").addHandler(self._log_handler)
        self._new_update = asyncio.Condition()
        self._session = aiohttp.ClientSession()
        app = web.Application(client_max_size=10 * 1024 * 1024)
        app.router.add_route("*", "/bot{token}/{method}", self._handle)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]

    def stop(self) -> None:
        if self._loop is None:
            return

        async def shutdown():
            # Wake long polls now instead of letting cleanup wait for their timeouts.
            self._closing = True
            async with self._new_update:
                self._new_update.notify_all()
            await self._session.close()
            await self._runner.cleanup()
            logging.getLogger("aiohttp.server").removeHandler(self._log_handler)

        asyncio.run_coroutine_threadsafe(shutdown(), self._loop).result(30)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)
        self._loop = None

    def _run(self, coro):
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(30)

    # ----------------------------------------------------------------------- HTTP side
    async def _params(self, request: web.Request) -> dict:
        if request.content_type == "application/json":
            body = await request.read()
            return json.loads(body) if body else {}
        if request.method == "GET":
            raw = dict(request.query)
        else:
            raw = dict(await request.post())
        params = {}
        for key, value in raw.items():
            if key in _JSON_PARAMS and isinstance(value, str):
                try:
                    value = json.loads(value)
                except ValueError:
                    pass
            params[key] = value
        return params

    async def _handle(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        if request.match_info["token"] != self.token:
            return web.json_response({"ok": False, "error_code": 401, "description": "Unauthorized"}, status=401)
        params = await self._params(request)
        status, body = 200, None
        try:
            delay = self.delays.get((method, params.get("chat_id")), self.delays.get((method, None)))
            if delay:
                await asyncio.sleep(delay)
            fault = self._take_fault(method)
            if fault is not None:
                if fault.status == 429:
                    raise TelegramError(429, f"Too Many Requests: retry after {fault.retry_after}",
                                        {"retry_after": fault.retry_after})
                raise TelegramError(fault.status, "Internal Server Error" if fault.status >= 500 else "Bad Request")
            handler = getattr(self, "_api_" + method, None)
            if handler is None:
                raise TelegramError(404, "Not Found")
            result = await handler(params)
            body = {"ok": True, "result": result}
        except TelegramError as exc:
            status = exc.code
            body = {"ok": False, "error_code": exc.code, "description": exc.description}
            if exc.parameters:
                body["parameters"] = exc.parameters
        if method != "getUpdates" or status != 200 or body["result"]:
            self._record(method, params, status, body)
        return web.json_response(body, status=status)

    def _take_fault(self, method: str) -> Fault | None:
        queue = self.faults.get(method)
        if not queue:
            return None
        fault = queue[0]
        fault.times -= 1
        if fault.times <= 0:
            queue.pop(0)
        return fault

    def _record(self, method, params, status, body) -> None:
        with self._calls_cond:
            self._calls.append(Call(next(self._seq), method, params, status, body))
            self._calls_cond.notify_all()

    # ----------------------------------------------------------------------- Bot API methods
    def _bot_user(self) -> dict:
        return {"id": self.bot_id, "is_bot": True, "first_name": "Trợ lý ISO", "username": self.username}

    async def _api_getMe(self, params):
        return {**self._bot_user(), "can_join_groups": True, "can_read_all_group_messages": True,
                "supports_inline_queries": True, "can_connect_to_business": False, "has_main_web_app": False}

    async def _api_getUpdates(self, params):
        if self.webhook["url"]:
            raise TelegramError(409, "Conflict: can't use getUpdates method while webhook is active; use deleteWebhook to delete the webhook first")
        offset = int(params.get("offset") or 0)
        limit = int(params.get("limit") or 100)
        timeout = float(params.get("timeout") or 0)
        if offset:
            self._updates = [u for u in self._updates if u["update_id"] >= offset]
        deadline = time.monotonic() + timeout
        async with self._new_update:
            while not self._updates and not self._closing:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    break
                try:
                    await asyncio.wait_for(self._new_update.wait(), remaining)
                except asyncio.TimeoutError:
                    break
        return self._updates[:limit]

    async def _api_setWebhook(self, params):
        url = params.get("url", "")
        if url and not url.startswith(("http://", "https://")):
            raise TelegramError(400, "Bad Request: bad webhook: An HTTPS URL must be provided for webhook")
        self.webhook = {"url": url, "secret_token": params.get("secret_token") or None}
        if url:
            asyncio.get_running_loop().create_task(self._deliver_pending())
        return True

    async def _api_deleteWebhook(self, params):
        self.webhook = {"url": "", "secret_token": None}
        if params.get("drop_pending_updates"):
            self._updates.clear()
        return True

    async def _api_getWebhookInfo(self, params):
        return {"url": self.webhook["url"], "has_custom_certificate": False,
                "pending_update_count": len(self._updates)}

    async def _api_setMyCommands(self, params):
        commands = params.get("commands") or []
        scope = params.get("scope") or {"type": "default"}
        if scope.get("type") in ("chat", "chat_administrators", "chat_member"):
            self._chat(scope.get("chat_id"))
        for c in commands:
            if not re.fullmatch(r"[a-z0-9_]{1,32}", c.get("command", "")):
                raise TelegramError(400, "Bad Request: BOT_COMMAND_INVALID")
            if not 1 <= len(c.get("description", "")) <= 256:
                raise TelegramError(400, "Bad Request: command description is empty")
        self.commands[json.dumps(scope, sort_keys=True)] = commands
        return True

    async def _api_getMyCommands(self, params):
        return self.commands.get(json.dumps(params.get("scope") or {"type": "default"}, sort_keys=True), [])

    async def _api_deleteMyCommands(self, params):
        self.commands.pop(json.dumps(params.get("scope") or {"type": "default"}, sort_keys=True), None)
        return True

    async def _api_close(self, params):
        return True

    async def _api_logOut(self, params):
        return True

    def _chat(self, chat_id) -> dict:
        try:
            chat_id = int(chat_id)
        except (TypeError, ValueError):
            raise TelegramError(400, "Bad Request: chat not found") from None
        chat = self.chats.get(chat_id)
        if chat is None:
            raise TelegramError(400, "Bad Request: chat not found")
        return chat

    async def _api_sendChatAction(self, params):
        self._chat(params.get("chat_id"))
        if params.get("action") not in {"typing", "upload_photo", "record_video", "upload_video", "record_voice",
                                        "upload_voice", "upload_document", "choose_sticker", "find_location",
                                        "record_video_note", "upload_video_note"}:
            raise TelegramError(400, "Bad Request: wrong parameter action in request")
        return True

    async def _api_sendMessage(self, params):
        chat = self._chat(params.get("chat_id"))
        _, entities = check_text(params.get("text"), params.get("parse_mode"))
        markup = check_keyboard(params.get("reply_markup"))
        message = self._new_message(chat, self._bot_user(), self._plain(params), entities)
        reply = params.get("reply_parameters") or ({"message_id": params["reply_to_message_id"]}
                                                    if params.get("reply_to_message_id") else None)
        if reply:
            original = self.messages.get((chat["id"], int(reply["message_id"])))
            if original is None and not reply.get("allow_sending_without_reply"):
                raise TelegramError(400, "Bad Request: message to be replied not found")
            if original is not None:
                message["reply_to_message"] = {k: v for k, v in original.items() if k != "reply_to_message"}
        if markup:
            message["reply_markup"] = markup
        message["_html"] = params.get("text") if (params.get("parse_mode") or "").upper() == "HTML" else None
        self.messages[(chat["id"], message["message_id"])] = message
        return self._public(message)

    @staticmethod
    def _plain(params) -> str:
        text = params.get("text")
        return parse_html(text)[0] if (params.get("parse_mode") or "").upper() == "HTML" else text

    @staticmethod
    def _public(message: dict) -> dict:
        return {k: v for k, v in message.items() if not k.startswith("_")}

    def _editable(self, params) -> dict:
        if params.get("inline_message_id"):
            raise TelegramError(400, "Bad Request: inline messages are not tracked by the emulator")
        chat = self._chat(params.get("chat_id"))
        message = self.messages.get((chat["id"], int(params.get("message_id") or 0)))
        if message is None:
            raise TelegramError(400, "Bad Request: message to edit not found")
        if message["from"]["id"] != self.bot_id:
            raise TelegramError(400, "Bad Request: message can't be edited")
        return message

    async def _api_editMessageText(self, params):
        message = self._editable(params)
        plain, entities = check_text(params.get("text"), params.get("parse_mode"))
        markup = check_keyboard(params.get("reply_markup"))
        if plain == message.get("text") and markup == message.get("reply_markup"):
            raise TelegramError(400, "Bad Request: message is not modified: specified new message content and reply markup are exactly the same as a current content and reply markup of the message")
        message["text"] = plain
        message["entities"] = entities
        message["edit_date"] = int(time.time())
        message["_html"] = params.get("text")
        if markup:
            message["reply_markup"] = markup
        else:
            message.pop("reply_markup", None)
        return self._public(message)

    async def _api_editMessageReplyMarkup(self, params):
        message = self._editable(params)
        markup = check_keyboard(params.get("reply_markup"))
        if markup == message.get("reply_markup") or (not markup and "reply_markup" not in message):
            raise TelegramError(400, "Bad Request: message is not modified: specified new message content and reply markup are exactly the same as a current content and reply markup of the message")
        message["edit_date"] = int(time.time())
        if markup:
            message["reply_markup"] = markup
        else:
            message.pop("reply_markup", None)
        return self._public(message)

    async def _api_answerCallbackQuery(self, params):
        qid = str(params.get("callback_query_id", ""))
        if qid not in self._pending_callbacks:
            raise TelegramError(400, "Bad Request: query is too old and response timeout expired or query ID is invalid")
        if len(params.get("text") or "") > ANSWER_CALLBACK_TEXT_LIMIT:
            raise TelegramError(400, "Bad Request: MESSAGE_TOO_LONG")
        self._pending_callbacks.discard(qid)
        return True

    async def _api_answerInlineQuery(self, params):
        qid = str(params.get("inline_query_id", ""))
        if qid not in self._pending_inline:
            raise TelegramError(400, "Bad Request: query is too old and response timeout expired or query ID is invalid")
        results = params.get("results")
        if isinstance(results, str):
            results = json.loads(results)
        if not isinstance(results, list) or len(results) > 50:
            raise TelegramError(400, "Bad Request: RESULTS_TOO_MUCH")
        seen = set()
        for r in results:
            rid = r.get("id", "")
            if not 1 <= len(rid.encode()) <= 64 or rid in seen:
                raise TelegramError(400, "Bad Request: RESULT_ID_INVALID" if rid not in seen else "Bad Request: RESULT_ID_DUPLICATE")
            seen.add(rid)
            if r.get("type") != "article" or not r.get("title"):
                raise TelegramError(400, "Bad Request: RESULT_TYPE_INVALID")
            content = r.get("input_message_content") or {}
            check_text(content.get("message_text"), content.get("parse_mode"))
            check_keyboard(r.get("reply_markup"))
        self._pending_inline.discard(qid)
        return True

    # ----------------------------------------------------------------------- updates
    def _new_message(self, chat: dict, sender: dict, text: str | None, entities: list | None = None, **extra) -> dict:
        ids = self._message_ids.setdefault(chat["id"], itertools.count(1))
        message = {"message_id": next(ids), "from": sender, "chat": chat, "date": int(time.time())}
        if text is not None:
            message["text"] = text
        if entities:
            message["entities"] = entities
        message.update(extra)
        return message

    async def _push_update(self, payload: dict) -> dict:
        update = {"update_id": next(self._update_ids), **payload}
        self._updates.append(update)
        if self.webhook["url"]:
            await self._deliver_pending()
        else:
            async with self._new_update:
                self._new_update.notify_all()
        return update

    async def _deliver_pending(self) -> None:
        """POST queued updates to the webhook in order, with the secret header; keep failures queued."""
        while self._updates and self.webhook["url"]:
            update = self._updates[0]
            headers = {}
            if self.webhook["secret_token"]:
                headers["X-Telegram-Bot-Api-Secret-Token"] = self.webhook["secret_token"]
            try:
                async with self._session.post(self.webhook["url"], json=update, headers=headers) as resp:
                    status = resp.status
            except aiohttp.ClientError:
                status = 0
            self.webhook_deliveries.append((update["update_id"], status))
            if status != 200:
                asyncio.get_running_loop().call_later(0.5, lambda: asyncio.ensure_future(self._deliver_pending()))
                return
            if self._updates and self._updates[0] is update:
                self._updates.pop(0)

    @staticmethod
    def _entities_for(text: str) -> list[dict]:
        """The entities Telegram's client adds: a leading /command, @mentions, and URLs."""
        entities = []
        m = re.match(r"/[A-Za-z0-9_]+(?:@[A-Za-z0-9_]+)?", text)
        if m:
            entities.append({"type": "bot_command", "offset": 0, "length": utf16_len(m.group(0))})
        for m in re.finditer(r"(?<![\w@])@[A-Za-z][A-Za-z0-9_]{3,31}", text):
            entities.append({"type": "mention", "offset": utf16_len(text[: m.start()]), "length": utf16_len(m.group(0))})
        return entities

    # ----------------------------------------------------------------------- test API (any thread)
    @staticmethod
    def user(user_id: int, first_name: str = "Lan", username: str | None = None) -> dict:
        user = {"id": user_id, "is_bot": False, "first_name": first_name, "language_code": "vi"}
        if username:
            user["username"] = username
        return user

    def private_chat(self, user: dict) -> dict:
        chat = {"id": user["id"], "type": "private", "first_name": user["first_name"]}
        self.chats[chat["id"]] = chat
        return chat

    def group_chat(self, chat_id: int, title: str = "Tổ ISO phường") -> dict:
        chat = {"id": chat_id, "type": "supergroup", "title": title}
        self.chats[chat_id] = chat
        return chat

    def send_text(self, user: dict, chat: dict, text: str, reply_to: dict | None = None) -> dict:
        """A user types text (commands and @mentions get their entities, as Telegram adds them)."""

        async def go():
            extra = {}
            if reply_to is not None:
                extra["reply_to_message"] = self._public({k: v for k, v in reply_to.items() if k != "reply_to_message"})
            message = self._new_message(chat, user, text, self._entities_for(text), **extra)
            self.messages[(chat["id"], message["message_id"])] = message
            await self._push_update({"message": message})
            return message

        return self._run(go())

    def send_media(self, user: dict, chat: dict, kind: str) -> dict:
        """A sticker, photo, voice note or document (no text)."""
        media = {
            "sticker": {"file_id": "CAACAgIAAxk", "file_unique_id": "AgADsticker", "type": "regular", "width": 512,
                        "height": 512, "is_animated": False, "is_video": False, "emoji": "😀"},
            "photo": [{"file_id": "AgACAgIAAxk", "file_unique_id": "AQADphoto", "width": 90, "height": 90}],
            "voice": {"file_id": "AwACAgIAAxk", "file_unique_id": "AgADvoice", "duration": 3},
            "document": {"file_id": "BQACAgIAAxk", "file_unique_id": "AgADdoc", "file_name": "quy-trinh.pdf",
                         "mime_type": "application/pdf"},
        }[kind]

        async def go():
            message = self._new_message(chat, user, None, **{kind: media})
            await self._push_update({"message": message})
            return message

        return self._run(go())

    def press(self, user: dict, message: dict, data: str) -> str:
        """A user taps an inline button under one of the bot's messages."""

        async def go():
            current = self.messages.get((message["chat"]["id"], message["message_id"]), message)
            qid = f"{next(self._callback_ids)}{user['id']}"
            self._pending_callbacks.add(qid)
            await self._push_update({"callback_query": {
                "id": qid, "from": user, "message": self._public(current),
                "chat_instance": f"ci{message['chat']['id']}", "data": data,
            }})
            return qid

        return self._run(go())

    def inline(self, user: dict, query: str) -> str:
        """A user types '@bot query' in some chat."""

        async def go():
            qid = f"{next(self._inline_ids)}{user['id']}"
            self._pending_inline.add(qid)
            await self._push_update({"inline_query": {"id": qid, "from": user, "query": query, "offset": "",
                                                      "chat_type": "sender"}})
            return qid

        return self._run(go())

    def fail(self, method: str, status: int = 429, retry_after: int = 1, times: int = 1) -> None:
        """The next `times` calls of `method` fail with `status` (429 carries retry_after)."""

        async def go():
            self.faults.setdefault(method, []).append(Fault(status, retry_after, times))

        self._run(go())

    def delay(self, method: str, seconds: float, chat_id: int | None = None) -> None:
        """Answer `method` (for one chat, or all) only after `seconds`; 0 removes the delay."""

        async def go():
            if seconds:
                self.delays[(method, chat_id)] = seconds
            else:
                self.delays.pop((method, chat_id), None)

        self._run(go())

    def message(self, chat_id: int, message_id: int) -> dict:
        """The current state of a message (after edits)."""

        async def go():
            return json.loads(json.dumps(self.messages[(chat_id, message_id)]))

        return self._run(go())

    # ----------------------------------------------------------------------- observing the bot
    def mark(self) -> int:
        """A point in the call log; wait_for(since=mark) only looks at later calls."""
        with self._calls_cond:
            return len(self._calls)

    def calls(self, since: int = 0, method: str | None = None) -> list[Call]:
        with self._calls_cond:
            return [c for c in self._calls[since:] if method is None or c.method == method]

    def wait_for(self, predicate: Callable[[Call], bool], since: int = 0, timeout: float = 60.0, count: int = 1) -> list[Call]:
        """Block until `count` calls after `since` satisfy predicate; raise AssertionError on timeout."""
        deadline = time.monotonic() + timeout
        with self._calls_cond:
            while True:
                found = [c for c in self._calls[since:] if predicate(c)]
                if len(found) >= count:
                    return found[:count]
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    seen = [(c.method, c.status, c.params.get("chat_id"), str(c.params.get("text", ""))[:60])
                            for c in self._calls[since:]]
                    raise AssertionError(f"timed out waiting for {count} matching call(s); saw {seen}")
                self._calls_cond.wait(min(remaining, 0.5))

    def wait_reply(self, chat_id: int, since: int, timeout: float = 60.0, count: int = 1) -> list[Call]:
        """The bot's next sendMessage call(s) to a chat."""
        return self.wait_for(lambda c: c.method == "sendMessage" and c.chat_id == chat_id, since, timeout, count)

    def errors(self, since: int = 0) -> list[Call]:
        """Every request the emulator refused with 400 (e.g. HTML parse errors)."""
        return [c for c in self.calls(since) if c.status == 400]

    def quiet(self, seconds: float, predicate: Callable[[Call], bool], since: int) -> list[Call]:
        """Wait `seconds`, then return calls matching predicate (to show that nothing was sent)."""
        time.sleep(seconds)
        return [c for c in self.calls(since) if predicate(c)]
