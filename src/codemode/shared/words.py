"""Small words of English for messages: `a int64` reads wrong."""

from __future__ import annotations

# Words that begin with a vowel letter but a consonant sound: "a uint8", "a unicode string".
_YOU = ("uint", "uni", "use", "usu", "uti", "eu", "one")


def a_or_an(word: str) -> str:
    """`an int64`, `a module`, `a uint8`: the article for `word`, then the word."""
    lowered = word.lower()
    vowel = lowered[:1] in ("a", "e", "i", "o", "u") and not lowered.startswith(_YOU)
    return f"{'an' if vowel else 'a'} {word}"
