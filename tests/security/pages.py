"""HTML checks shared by the security batteries: what a strict Content-Security-Policy would
block, and markup that an attacker's text managed to inject."""

from html.parser import HTMLParser

URL_ATTRIBUTES = {"href", "src", "action", "formaction", "xlink:href", "data", "poster"}


class _Collector(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.problems: list[str] = []
        self.scripts_with_src: list[str] = []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        where = f"<{tag} {' '.join(f'{k}={v!r}' for k, v in attrs.items())}>"[:160]
        if tag == "style":
            self.problems.append(f"inline <style> element: {where}")
        if tag == "script":
            if attrs.get("src"):
                self.scripts_with_src.append(attrs["src"])
            else:
                self.problems.append(f"inline <script> block: {where}")
        for name, value in attrs.items():
            if name == "style":
                self.problems.append(f"style= attribute: {where}")
            elif name.startswith("on"):
                self.problems.append(f"{name}= event handler: {where}")
            elif name in URL_ATTRIBUTES and (value or "").strip().lower().startswith(
                    ("javascript:", "vbscript:", "data:text/html")):
                self.problems.append(f"script URL in {name}=: {where}")
        if tag in ("object", "embed", "iframe", "frame", "base"):
            self.problems.append(f"<{tag}> element: {where}")

    handle_startendtag = handle_starttag


def csp_violations(html: str) -> list[str]:
    """Inline style and script, event handlers, script URLs, plug-in and frame elements."""
    collector = _Collector()
    collector.feed(html)
    collector.close()
    problems = list(collector.problems)
    problems += [f"script from another site: {src}" for src in collector.scripts_with_src
                 if not src.startswith("/static/")]
    return problems
