"""``cp_dates``: marks date words with ``TAG == "DATE"`` so commitment patterns need one token for a date.

A date is a weekday, month, «завтра»/«сегодня» (lexicons/dates.txt [day]), a day number «15-го», a date
«20.05», «20.05.2026», a time «18:00», or a period noun after a [before] word («до конца недели», «в течение
двух дней», «к обеду»).
"""

from __future__ import annotations

import re

from spacy.language import Language
from spacy.tokens import Doc

from nlp.lexicon import sections

DATE_TAG = "DATE"
OTHER_TAG = "_"  # every token gets a tag: spaCy's Matcher refuses TAG patterns on a doc with no tags (E155)
_NUMERIC = re.compile(r"^(\d{1,2}-?(го|е|ое|ого)|\d{1,2}[./]\d{1,2}([./]\d{2,4})?|\d{1,2}:\d{2})$")


@Language.component("cp_dates", requires=["token.lemma"])
def dates(doc: Doc) -> Doc:
    lexicon = sections("dates")
    days, periods, before = set(lexicon["day"]), set(lexicon["period"]), set(lexicon["before"])
    strings = doc.vocab.strings
    date, other = strings.add(DATE_TAG), strings.add(OTHER_TAG)
    for token in doc:
        lemma = token.lemma_
        if (
            lemma in days
            or (token.norm_[:1].isdigit() and _NUMERIC.match(token.norm_))
            or (lemma in periods and any(t.lemma_ in before for t in doc[max(0, token.i - 2) : token.i]))
        ):
            token.tag = date
        else:
            token.tag = other
    return doc
