"""Messages from files and users, shown safely: Streamlit renders alert text as Markdown, so a
file name like ``__root__.npy`` would turn bold and a crafted one could inject links."""

from __future__ import annotations

import re

_MARKDOWN = re.compile(r"([\\`*_{}\[\]()#+\-.!|<>~$:])")


def plain(text: object) -> str:
    """``text`` with every Markdown special character escaped, so it shows as written."""
    return _MARKDOWN.sub(r"\\\1", str(text))


def error_line(what: str, exc: BaseException, name: str = "") -> str:
    """``what: message``, without repeating ``name`` when the message already starts with it."""
    message = str(exc)
    for prefix in (f"{name}: ", f"could not read {name}: "):  # the sandboxed reader's lines
        if name and message.startswith(prefix):
            message = message[len(prefix) :]
    return f"{what}: {plain(message)}"


def sentence(text: str | None) -> str:
    """A figure's subtitle as a caption sentence: capitalised, with a full stop."""
    text = (text or "").strip().rstrip(".")
    return f"{text[:1].upper()}{text[1:]}." if text else ""
