"""Terminal chat: questions from stdin, the same answers as Telegram printed as plain text."""
from __future__ import annotations

import re
import sys
from typing import TextIO

from bot import messages as msg
from bot import replies
from bot.answering import Answerer


def reply_as_text(reply: replies.Reply) -> str:
    """What the Telegram user would read, without markup or buttons."""
    return "\n\n".join(replies.to_plain_text(chunk) for chunk in reply.chunks)


def respond(answerer: Answerer, line: str) -> str:
    """One line in, one printed answer out; /dieu, /faq and /quytrinh work as in Telegram."""
    text = line.strip()
    command = re.match(r"^/(dieu|faq|quytrinh|help)\b\s*(.*)$", text)
    if command:
        name, rest = command.groups()
        if name == "help":
            return msg.HELP.format(bot_name=msg.BOT_NAME, username="bot")
        if name == "faq":
            return reply_as_text(answerer.faq_page(0))
        if name == "quytrinh":
            return reply_as_text(answerer.procedures())
        from bot.handlers import _parse_clause_args

        parsed = _parse_clause_args(rest.split())
        if parsed is None:
            return msg.DIEU_USAGE
        return reply_as_text(answerer.clause(*parsed))
    return reply_as_text(answerer.answer(text, user_id=None, chat_id=None, source="terminal").reply)


def chat(answerer: Answerer, stdin: TextIO = sys.stdin, stdout: TextIO = sys.stdout) -> int:
    """Prompt 'Bạn hỏi: ' on a TTY; with piped input, answer each line; stop at end of input."""
    interactive = stdin.isatty()
    if interactive:
        print(msg.TERMINAL_BANNER, file=stdout)
    while True:
        if interactive:
            stdout.write(msg.TERMINAL_PROMPT)
            stdout.flush()
        line = stdin.readline()
        if not line:
            if interactive:
                print("\n" + msg.TERMINAL_BYE, file=stdout)
            return 0
        if not line.strip():
            continue
        print(respond(answerer, line), file=stdout)
        print(file=stdout)
        stdout.flush()
