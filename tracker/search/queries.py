"""Search across the kinds a person may see: the page, the API and the palette ask here."""

import re
from dataclasses import dataclass, field

from markupsafe import Markup, escape

from tracker.auth.models import User
from tracker.search.backends import MARK_END, MARK_START, Hit, Query, backend
from tracker.search.kinds import BY_KEY, KINDS, Kind, Scope

PER_KIND = 10     # hits of each kind on the page of every kind
ONE_KIND = 50     # hits when the page shows one kind


@dataclass
class Result:
    kind: str
    id: int
    title: str
    url: str
    context: str
    snippet: Markup
    exact: bool


@dataclass
class Group:
    kind: Kind
    results: list[Result]
    more: bool  # there are more hits than shown

    @property
    def key(self) -> str:
        return self.kind.key


@dataclass
class Results:
    query: Query
    groups: list[Group] = field(default_factory=list)

    @property
    def count(self) -> int:
        return sum(len(g.results) for g in self.groups)


def search(user: User, text: str, kind: str | None = None) -> Results:
    """The best hits of each kind (or of one kind) for `text`, grouped in KINDS order; only
    rows `user` may see. Two statements per kind at most, whatever the data size."""
    query = Query.parse(text)
    results = Results(query)
    if query.empty:
        return results
    scope, db_search = Scope.of(user), backend()
    kinds = [BY_KEY[kind]] if kind in BY_KEY else list(KINDS)
    limit = ONE_KIND if len(kinds) == 1 else PER_KIND
    for k in kinds:
        if k.hidden_from(scope):
            continue
        hits = db_search.find(k, query, scope, limit + 1)
        if not hits:
            continue
        shown = hits[:limit]
        snippets = db_search.snippets(k, query, [h.row.id for h in shown])
        results.groups.append(Group(k, [_result(h, snippets.get(h.row.id, "")) for h in shown],
                                    more=len(hits) > limit))
    return results


def _result(hit: Hit, snippet: str) -> Result:
    kind, row = hit.kind, hit.row
    return Result(kind=kind.key, id=row.id, title=kind.title(row), url=kind.link(row),
                  context=kind.context(row), snippet=highlighted(snippet), exact=hit.exact)


_MARKED = re.compile(f"{MARK_START}([^{MARK_START}{MARK_END}]*){MARK_END}")


def highlighted(raw: str) -> Markup:
    """The database's excerpt, escaped, with its marked words in <mark>: the text is
    escaped before any markup is added, so nothing in it can become HTML."""
    safe = str(escape(raw))
    marked = _MARKED.sub(lambda m: f"<mark>{m.group(1)}</mark>", safe)
    return Markup(marked.replace(MARK_START, "").replace(MARK_END, ""))  # nosec B704 — escaped above


def plain(snippet: Markup) -> str:
    """A snippet as plain text, for JSON answers (the API, the palette)."""
    return snippet.striptags()
