"""Counted nouns for the messages people read."""


def counted(n: int, singular: str, plural: str | None = None) -> str:
    """The count with its noun, e.g. 1 product, 1,250 products: people read these messages, and
    "product(s)" reads as unfinished. The words may carry their verb: "product has"."""
    words = singular if n == 1 else (plural if plural is not None else singular + "s")
    return f"{n:,} {words}"
