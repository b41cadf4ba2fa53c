"""Split a shell command line the way /bin/sh would, without running or expanding anything.

Tokens are words, operators (``&&``, ``||``, ``;``, ``|``, ``&``, parentheses, newline)
and redirections (``>>``, ``2>&``, ``&>``...), each with its span in the text, so a
caller can cut a command into pieces and keep the rest verbatim. A word is *plain*
when it holds no expansion (``$``, backticks, globs, ``~``, braces) and no backslash
inside double quotes: then ``shlex`` gives exactly the word sh would.
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass

_OPERATORS = ("&&", "||", ";;", ";", "|", "&")
_REDIRECT = re.compile(r"(\d*)(>>|>&|>\||<&|<<|&>>|&>|>|<)")


class LexError(ValueError):
    """The command is not valid shell (an unclosed quote or parenthesis)."""


@dataclass
class Token:
    """A word, operator or redirection, with its span in the command text."""

    kind: str  # "word", "op", "redirect"
    text: str  # raw text as written
    start: int
    end: int
    plain: bool = True  # a word with no expansion: shlex gives what sh would

    @property
    def value(self) -> str:
        """A plain word's value (quotes removed), or its raw text."""
        return shlex.split(self.text)[0] if self.plain and self.text else self.text


def lex(text: str) -> list[Token]:
    """Split ``text`` as /bin/sh would, into tokens; LexError when it is not valid shell."""
    tokens: list[Token] = []
    index = 0
    while index < len(text):
        char = text[index]
        if char in " \t":
            index += 1
            continue
        if char == "#":  # a comment runs to the end of the line
            break
        if char == "\n":
            tokens.append(Token("op", ";", index, index + 1))
            index += 1
            continue
        redirect = _REDIRECT.match(text, index) if (char in "<>&" or char.isdigit()) else None
        if redirect and (char != "&" or redirect.group(2).startswith("&>")):
            tokens.append(Token("redirect", redirect.group(0), index, redirect.end()))
            index = redirect.end()
            continue
        if char in "()":
            tokens.append(Token("op", char, index, index + 1))
            index += 1
            continue
        operator = next((op for op in _OPERATORS if text.startswith(op, index)), None)
        if operator:
            tokens.append(Token("op", operator, index, index + len(operator)))
            index += len(operator)
            continue
        end, plain = word_end(text, index)
        tokens.append(Token("word", text[index:end], index, end, plain))
        index = end
    return tokens


def word_end(text: str, index: int) -> tuple[int, bool]:
    """End of the word starting at ``index`` and whether it is plain (no expansion)."""
    plain = text[index] not in "~{}"
    while index < len(text):
        char = text[index]
        if char in " \t\n|&;<>()":
            break
        if char == "'":
            close = text.find("'", index + 1)
            if close < 0:
                raise LexError("unclosed single quote")
            index = close + 1
        elif char == '"':
            index, quoted_plain = _double_quoted(text, index + 1)
            plain = plain and quoted_plain
        elif char == "\\":
            if index + 1 >= len(text):
                raise LexError("a backslash ends the command")
            index += 2
        elif char == "$":
            plain = False
            index = _dollar(text, index)
        elif char == "`":
            close = _backtick_end(text, index + 1)
            plain = False
            index = close + 1
        else:
            plain = plain and char not in "*?[{}"
            index += 1
    return index, plain


def _double_quoted(text: str, index: int) -> tuple[int, bool]:
    plain = True
    while index < len(text):
        char = text[index]
        if char == '"':
            return index + 1, plain
        if char == "\\":
            plain = False  # sh and shlex disagree on some escapes inside double quotes
            index += 2
            continue
        if char == "$":
            plain = False
            index = _dollar(text, index)
            continue
        if char == "`":
            plain = False
            index = _backtick_end(text, index + 1) + 1
            continue
        index += 1
    raise LexError("unclosed double quote")


def _dollar(text: str, index: int) -> int:
    """End of the expansion starting with ``$`` at ``index``."""
    if text.startswith("$(", index) or text.startswith("${", index):
        opener, closer = text[index + 1], ")" if text[index + 1] == "(" else "}"
        depth, position = 0, index + 1
        while position < len(text):
            if text[position] == "\\":
                position += 2
                continue
            if text[position] == "'" and closer == ")":
                close = text.find("'", position + 1)
                if close < 0:
                    raise LexError("unclosed single quote")
                position = close + 1
                continue
            if text[position] == opener:
                depth += 1
            elif text[position] == closer:
                depth -= 1
                if depth == 0:
                    return position + 1
            position += 1
        raise LexError(f"unclosed ${opener}")
    return index + 1


def _backtick_end(text: str, index: int) -> int:
    while index < len(text):
        if text[index] == "\\":
            index += 2
            continue
        if text[index] == "`":
            return index
        index += 1
    raise LexError("unclosed backtick")
