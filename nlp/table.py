"""Per-doc token attributes as plain Python lists, built once by ``cp_lemmatizer``.

Every ``for token in doc`` creates a spaCy ``Token`` object per token, and a dozen components each walking
every token made that the largest cost of the analysis. The lemmatizer already knows each token's text,
lemma, norm and POS, so it leaves them here; later components index these lists instead of the doc.
"""

from __future__ import annotations

from dataclasses import dataclass

from spacy.tokens import Doc

_KEY = "cp.table"


@dataclass(frozen=True, slots=True)
class DocTable:
    text: list[str]
    norm: list[str]
    lemma: list[str]
    pos: list[str]  # Universal POS, "" for whitespace tokens
    space: list[bool]  # the token is whitespace
    punct: list[bool]  # spaCy's is_punct
    ws: list[bool]  # the token is followed by a space
    words: list[str | None]  # the label classifier's word for the token (``feature_word``)

    @classmethod
    def of(cls, rows: list[tuple[str, str, str, str, bool, bool, bool, str | None]]) -> DocTable:
        """From one row per token, in the order of the fields."""
        columns = [list(column) for column in zip(*rows, strict=True)] if rows else [[] for _ in range(8)]
        return cls(*columns)

    def __len__(self) -> int:
        return len(self.text)

    @property
    def doc_text(self) -> str:
        """``doc.text`` without creating a Token per token."""
        return "".join([text + " " if ws else text for text, ws in zip(self.text, self.ws, strict=True)])


KEEP_PUNCT = frozenset({"!", "?", ")", "("})


def feature_word(text: str, lemma: str, space: bool, punct: bool) -> str | None:
    """The label classifier's view of a token: its lowercased lemma, ``<num>`` for anything with a digit, None
    for whitespace and for punctuation other than ``KEEP_PUNCT``."""
    if space or (punct and text not in KEEP_PUNCT):
        return None
    word = (lemma or text).lower()
    return "<num>" if any(ch.isdigit() for ch in word) else word


_PHONE_PARTS = frozenset({"-", "(", ")", "+"})


def mark_phones(text: list[str], words: list[str | None]) -> None:
    """Rewrites ``words`` in place: each telephone number becomes one ``<phone>`` (its other tokens None).

    A signature's «+7 939 673-97-33» is five ``<num>`` tokens, and their pairs look like a large amount of money
    to the classifier (a price objection whose evidence was the phone line). A phone: a run of digit groups and
    ``- ( ) +`` with 10 to 12 digits that starts with «+», «8» or «7» or has a bracket or hyphen.
    """
    n, i = len(text), 0
    while i < n:
        if words[i] != "<num>" and text[i] not in ("+", "("):
            i += 1
            continue
        j, digits = i, 0
        while j < n and (text[j] in _PHONE_PARTS or text[j].lstrip("+").isdigit()):
            digits += sum(ch.isdigit() for ch in text[j])
            j += 1
        run = text[i:j]
        if 10 <= digits <= 12 and (run[0].startswith("+") or run[0] in ("8", "7") or any(t in ("(", "-") for t in run)):
            words[i:j] = ["<phone>"] + [None] * (j - i - 1)
        i = max(j, i + 1)


def table(doc: Doc) -> DocTable:
    """The doc's table (set by ``cp_lemmatizer``; built from the tokens for a doc that skipped it)."""
    cached = doc.user_data.get(_KEY)
    if cached is None or len(cached) != len(doc):
        cached = DocTable.of(
            [
                (t.text, t.norm_, t.lemma_, t.pos_, t.is_space, t.is_punct, bool(t.whitespace_),
                 feature_word(t.text, t.lemma_, t.is_space, t.is_punct))
                for t in doc
            ]
        )  # fmt: skip
        if "<num>" in cached.words:
            mark_phones(cached.text, cached.words)
        doc.user_data[_KEY] = cached
    return cached


def set_table(doc: Doc, value: DocTable | None) -> None:
    doc.user_data[_KEY] = value
