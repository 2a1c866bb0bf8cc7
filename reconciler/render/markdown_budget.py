"""Fitting a pull-request comment into GitHub's limit, saying what was left out and where the
rest is.

GitHub refuses comments over 65,536 characters. When the full comment is too long, sections
are folded first (a change or a shared field change becomes one line), then lines beyond what
fits are dropped, then alert list items; the comment says how many of each and that the full
plan is in the workflow's artifact. Each stage finds the most it can show by bisection, so a
plan of 10,000 changes costs a few dozen layouts, never one per change.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable

from reconciler.render.values import plural

MAX_COMMENT_CHARS = 65_536
#: Our share, in UTF-8 bytes (never fewer than characters): room is left for a footer the plan
#: workflow appends, under the 60,000-byte cut its sticky-comment script makes as a last resort.
BUDGET = 59_000
#: Fewest bytes one section, line or alert item takes (its fixed markup).
_SMALLEST = {
    "details": len("<details><summary></summary>\n\n\n\n</details>"),
    "lines": len("- ** *** ``"),
    "alerts": len("> - ``"),
}
#: Where the full plan is when the comment cannot hold it.
FULL_PLAN = (
    "The full plan is in the workflow artifact (`ionworks-plan`: `plan.json`, which "
    "`ionworks-apply show plan.json` renders)."
)


class Quota:
    """How many sections, lines and alert items may still be shown (None: no limit), and what
    was left out, by kind of item (``change`` or ``shared`` field change)."""

    def __init__(self, details: int | None, lines: int | None, alerts: int | None) -> None:
        self.left = {"details": details, "lines": lines, "alerts": alerts}
        self.omitted: Counter[tuple[str, str]] = Counter()

    def take(self, what: str, item: str = "change") -> bool:
        left = self.left[what]
        if left is None:
            return True
        if left > 0:
            self.left[what] = left - 1
            return True
        self.omitted[(what, item)] += 1
        return False


def fit(document: Callable[[Quota], str], *, sections: int, alerts: int) -> str:
    """The largest ``document`` that fits: in full, else with the fewest items left out.

    A section, line or alert item takes at least ``_SMALLEST`` bytes, so no more of them than
    ``BUDGET // _SMALLEST`` can fit: the search never formats what could not be shown.
    """
    if sections * _SMALLEST["details"] <= BUDGET:
        full = document(Quota(None, None, None))
        if fits(full):
            return full
    stages: list[tuple[Callable[[int], Quota], int]] = [
        (lambda k: Quota(k, None, None), min(sections, BUDGET // _SMALLEST["details"])),
        (lambda k: Quota(0, k, None), min(sections, BUDGET // _SMALLEST["lines"])),
        (lambda k: Quota(0, 0, k), min(alerts, BUDGET // _SMALLEST["alerts"])),
    ]
    for make, most in stages:
        found = _largest_fitting(document, make, most)
        if found is not None:
            return found
    return _hard_cut(document(Quota(0, 0, 0)))


def fits(text: str) -> bool:
    return len(text.encode("utf-8")) <= BUDGET


def _largest_fitting(
    document: Callable[[Quota], str], make: Callable[[int], Quota], most: int
) -> str | None:
    """The document with the largest quota in ``0..most`` that fits, by bisection."""
    best: str | None = None
    low, high = 0, most
    while low <= high:
        middle = (low + high) // 2
        text = document(make(middle))
        if fits(text):
            best, low = text, middle + 1
        else:
            high = middle - 1
    return best


def _hard_cut(text: str) -> str:
    """Last resort for a document whose headers alone are too long: cut at a line end."""
    note = f"\n\n**Truncated.** {FULL_PLAN}"
    limit = BUDGET - len(note.encode("utf-8"))
    cut = text.encode("utf-8")[:limit].decode("utf-8", errors="ignore")
    return cut[: cut.rfind("\n")] + note


def omission_note(omitted: Counter[tuple[str, str]]) -> str:
    """The note at the top of a shortened comment: what is left out, and where it is."""
    said: dict[tuple[str, str], Callable[[int], str]] = {
        ("details", "change"): lambda n: f"field details of {plural(n, 'change')} are omitted",
        ("details", "shared"): lambda n: (
            f"{plural(n, 'shared field change')} {_are(n)} shown without {_its(n)} list of specs"
        ),
        ("lines", "change"): lambda n: f"{plural(n, 'change')} {_are(n)} not listed",
        ("lines", "shared"): lambda n: f"{plural(n, 'shared field change')} {_are(n)} not shown",
    }
    parts = [words(omitted[key]) for key, words in said.items() if omitted[key]]
    alerts = sum(n for (what, _), n in omitted.items() if what == "alerts")
    if alerts:
        parts.append(f"{plural(alerts, 'alert list item')} {_are(alerts)} cut")
    return (
        "> [!NOTE]\n"
        f"> This comment is shortened to fit GitHub's {MAX_COMMENT_CHARS:,}-character limit: "
        f"{'; '.join(parts)}. {FULL_PLAN}"
    )


def _are(n: int) -> str:
    return "is" if n == 1 else "are"


def _its(n: int) -> str:
    return "its" if n == 1 else "their"
