"""Text from files and users, shown safely: Streamlit renders alert text, captions, widget labels
and progress text as Markdown, so a file name like ``__root__.npy`` would turn bold, and a
crafted one could inject links, HTML or LaTeX."""

from __future__ import annotations

import re

_MARKDOWN = re.compile(r"([\\`*_{}\[\]()#+\-.!|<>~$:])")
_AUTOLINK = re.compile(r"(?i)(https?\\:/|www\\\.|@)")
"""Where GitHub-flavoured Markdown starts a link of its own (in the escaped text): Streamlit's
renderer finds bare URLs (``http://``, ``https://``, ``www.``) and e-mail addresses (``a@b.c``)
in the text *after* escapes are undone, so escaping alone cannot stop it."""
WORD_JOINER = "\u2060"
"""An invisible character, neither space nor punctuation: placed before a URL's start or an
``@``, it leaves the text as it reads but no longer where a link may begin."""


def plain(text: object) -> str:
    """``text`` as written: every Markdown special character escaped, and an invisible word
    joiner before whatever Markdown would turn into a link by itself (a bare URL, an e-mail
    address), so that nothing in it becomes a link, a tag, a formula or emphasis."""
    escaped = _MARKDOWN.sub(r"\\\1", str(text))
    return _AUTOLINK.sub(lambda m: WORD_JOINER + m.group(1), escaped)


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
