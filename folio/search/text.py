"""How text becomes search tokens, the same way for documents and for queries.

Tokenizing in Python (not in the database) keeps SQLite and PostgreSQL in agreement: both
indexes receive the same space-separated tokens, and a query token is always compared with
tokens made by the same rules. Folding is case- and accent-insensitive ("Café" = "cafe",
"Straße" = "strasse"), and a token is a run of letters, digits and combining marks, so
"WB-750-SS" is the tokens wb, 750 and ss.
"""

import re
import unicodedata

# Accents on Latin, Greek and Cyrillic letters, removed after NFKD decomposition. Marks of
# other scripts (Devanagari vowel signs, …) are part of the letter and stay.
_ACCENTS = re.compile("[\u0300-\u036f\u1ab0-\u1aff\u1dc0-\u1dff\u20d0-\u20ff\ufe20-\ufe2f]")


def _mark_class() -> str:
    """A regex character class of every combining mark: Python's \\w leaves them out, which
    would cut words of scripts such as Devanagari in two."""
    ranges, start, prev = [], None, None
    # Above plane 1 the only marks are the variation selectors supplement, added below; not
    # scanning the rest keeps the import fast.
    for cp in range(0x300, 0x20000):
        if unicodedata.category(chr(cp))[0] == "M":
            if start is None:
                start = cp
            prev = cp
        elif start is not None:
            ranges.append((start, prev))
            start = None
    ranges.append((0xE0100, 0xE01EF))
    return "".join(
        re.escape(chr(a)) if a == b else f"{re.escape(chr(a))}-{re.escape(chr(b))}"
        for a, b in ranges
    )


# One character class (word characters and marks) is twice as fast as an alternation; the
# underscore, which \w includes, is turned into a space before matching.
_TOKEN = re.compile(rf"[\w{_mark_class()}]+")
# The same tokens for folded text that is plain ASCII (most Latin-script text once accents
# are gone), three times faster.
_ASCII_TOKEN = re.compile(r"[a-z0-9]+")


def fold(text: str) -> str:
    text = text.casefold()
    if text.isascii():
        return text
    text = _ACCENTS.sub("", unicodedata.normalize("NFKD", text)).casefold()
    return unicodedata.normalize("NFC", text)


def tokens(text: str) -> list[str]:
    if not text:
        return []
    folded = fold(text)
    if folded.isascii():
        return _ASCII_TOKEN.findall(folded)
    return _TOKEN.findall(folded.replace("_", " "))
