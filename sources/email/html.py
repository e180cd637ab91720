"""HTML mail bodies to readable plain text, with the standard library's html.parser only.

The text keeps the line structure a reader sees (paragraphs, line breaks, list items, table rows) and
marks ``<blockquote>`` content with ``> `` prefixes, so the reply splitter treats it like a plain-text
quote. Scripts, styles and other invisible content are dropped; entities are unescaped.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser

__all__ = ["html_to_text"]

# Content of these elements is never shown to a reader.
_INVISIBLE = frozenset({"script", "style", "head", "title", "template", "noscript", "xml", "svg", "object"})
# Elements that start and end on their own line.
_BLOCK = frozenset(
    {
        "address", "article", "aside", "center", "dd", "div", "dl", "dt", "fieldset", "figcaption", "figure",
        "footer", "form", "header", "li", "main", "nav", "ol", "section", "table", "tbody", "thead", "tfoot",
        "tr", "ul", "pre",
    }
)
# Elements separated from their neighbours by a blank line.
_PARAGRAPH = frozenset({"p", "h1", "h2", "h3", "h4", "h5", "h6"})
_SPACES = re.compile(r"[ \t\r\n\f\v\u00a0\u200b]+")
_MANY_BLANKS = re.compile(r"\n{3,}")


class _TextBuilder(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.lines: list[str] = []
        self._words: list[str] = []
        self._line_depth = 0
        self._quote_depth = 0
        self._hidden = 0
        self._pre = 0

    # -- line handling -------------------------------------------------------------------------------------
    def _break(self, blank: bool = False) -> None:
        if self._words:
            text = "".join(self._words).strip(" ")
            self.lines.append("> " * self._line_depth + text if self._line_depth else text)
            self._words = []
        if blank and self.lines and self.lines[-1].strip("> ") != "":
            self.lines.append("> " * self._quote_depth if self._quote_depth else "")

    def _add(self, text: str) -> None:
        if not self._words:
            self._line_depth = self._quote_depth
        self._words.append(text)

    # -- parser callbacks ----------------------------------------------------------------------------------
    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _INVISIBLE:
            self._hidden += 1
        elif tag == "br":
            if self._words:
                self._break()
            else:
                self.lines.append("> " * self._quote_depth if self._quote_depth else "")
        elif tag == "hr":
            self._break()
            self.lines.append("________________________________")
        elif tag == "blockquote":
            self._break(blank=False)
            self._quote_depth += 1
        elif tag in _PARAGRAPH:
            self._break(blank=True)
        elif tag in _BLOCK:
            self._break()
            if tag == "pre":
                self._pre += 1
        elif tag in ("td", "th") and self._words:
            self._add(" ")
        elif tag == "img":
            alt = dict(attrs).get("alt")
            if alt and not self._hidden:
                self._add(alt)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _INVISIBLE:  # <script/> and the like hide nothing
            return
        self.handle_starttag(tag, attrs)

    def handle_endtag(self, tag: str) -> None:
        if tag in _INVISIBLE:
            self._hidden = max(0, self._hidden - 1)
        elif tag == "blockquote":
            self._break()
            self._quote_depth = max(0, self._quote_depth - 1)
        elif tag in _PARAGRAPH:
            self._break(blank=True)
        elif tag in _BLOCK:
            self._break()
            if tag == "pre":
                self._pre = max(0, self._pre - 1)

    def handle_data(self, data: str) -> None:
        if self._hidden:
            return
        if self._pre:
            parts = data.replace("\r\n", "\n").split("\n")
            for index, part in enumerate(parts):
                if index:
                    self._break()
                if part:
                    self._add(part.replace("\u00a0", " "))
            return
        text = _SPACES.sub(" ", data)
        if not text.strip() and "\u00a0" in data and not self._words:
            self._add(" ")  # <div>&nbsp;</div> is how mail editors write an empty line
            return
        if not text.strip():
            if self._words and not self._words[-1].endswith(" "):
                self._words.append(" ")
            return
        if self._words and self._words[-1].endswith(" ") and text.startswith(" "):
            text = text.lstrip(" ")
        self._add(text)

    def text(self) -> str:
        self._break()
        joined = "\n".join(line.rstrip() for line in self.lines)
        return _MANY_BLANKS.sub("\n\n", joined).strip("\n")


def html_to_text(html: str) -> str:
    """Readable plain text of an HTML document or fragment; never raises on malformed markup.

    >>> html_to_text("<p>Добрый день!</p><p>Счёт&nbsp;приложен.<br>Иван</p>")
    'Добрый день!\\n\\nСчёт приложен.\\nИван'
    """
    builder = _TextBuilder()
    builder.feed(html)
    builder.close()
    return builder.text()
