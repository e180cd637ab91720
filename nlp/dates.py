"""``cp_dates``: marks date words with ``TAG == "DATE"`` so commitment patterns need one token for a date.

A date is a weekday, month, «завтра»/«сегодня» (lexicons/dates.txt [day]), a day number «15-го», a date
«20.05», «20.05.2026», a time «18:00», or a period noun after a [before] word («до конца недели», «в течение
двух дней», «к обеду»).
"""

from __future__ import annotations

import re

import numpy
from spacy.attrs import TAG
from spacy.language import Language
from spacy.tokens import Doc

from nlp.lexicon import sections
from nlp.table import table

DATE_TAG = "DATE"
OTHER_TAG = "_"  # every token gets a tag: spaCy's Matcher refuses TAG patterns on a doc with no tags (E155)
_NUMERIC = re.compile(r"^(\d{1,2}-?(го|е|ое|ого)|\d{1,2}[./]\d{1,2}([./]\d{2,4})?|\d{1,2}:\d{2})$")


@Language.component("cp_dates", requires=["token.lemma"])
def dates(doc: Doc) -> Doc:
    lexicon = sections("dates")
    days, periods, before = set(lexicon["day"]), set(lexicon["period"]), set(lexicon["before"])
    strings = doc.vocab.strings
    date, other = strings.add(DATE_TAG), strings.add(OTHER_TAG)
    tab = table(doc)
    lemmas, norms = tab.lemma, tab.norm
    tags = [
        date
        if (
            lemma in days
            or (norms[i][:1].isdigit() and _NUMERIC.match(norms[i]))
            or (lemma in periods and any(lem in before for lem in lemmas[max(0, i - 2) : i]))
        )
        else other
        for i, lemma in enumerate(lemmas)
    ]
    if tags:
        doc.from_array([TAG], numpy.array(tags, dtype="uint64"))
    return doc
