"""Find the final answer in a model completion.

The solve prompt asks for the antiderivative between `<answer>` and `</answer>`. The answer is the
content of the LAST complete pair (tags case-insensitive, surrounding whitespace dropped); models
often restate or correct themselves, and the last statement is the one they commit to. With
`boxed=True` (`VerifyConfig.boxed_fallback`), a completion without tags falls back to the content
of the last `\\boxed{…}` (braces matched). The text is returned as is: `engine.verify.parse.parse` is the
only thing that interprets it.
"""

from __future__ import annotations

import re

_TAGGED = re.compile(r"<answer>(.*?)</answer>", re.I | re.S)
_BOXED = "\\boxed{"


def _last_boxed(text: str) -> str | None:
    start = text.rfind(_BOXED)
    while start >= 0:
        depth, i = 0, start + len(_BOXED) - 1
        for i in range(start + len(_BOXED) - 1, len(text)):
            depth += (text[i] == "{") - (text[i] == "}")
            if depth == 0:
                return text[start + len(_BOXED):i]
        start = text.rfind(_BOXED, 0, start)  # unclosed: try an earlier one
    return None


def extract(completion: str, *, boxed: bool = False) -> str | None:
    """The last `<answer>…</answer>` content of `completion` (or the last `\\boxed{…}` if `boxed`).

    Returns None when there is no answer or it is empty.
    """
    if not completion:
        return None
    found = _TAGGED.findall(completion)
    answer = found[-1] if found else (_last_boxed(completion) if boxed else None)
    if answer is None:
        return None
    answer = answer.strip()
    return answer or None
