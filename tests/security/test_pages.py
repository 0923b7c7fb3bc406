"""Every page of every GET route, as every role, passes a strict Content-Security-Policy:
no inline script or style, no event-handler attributes, no script URLs. The crawl walks
`app.url_map`, so pages added later are checked without touching this file."""

from tests.routes import ROLES, get_routes, sign_in
from tests.security.pages import csp_violations


def test_no_page_has_inline_script_or_style(app, client, site):
    problems, seen = [], 0
    for role in ROLES:
        sign_in(client, site, role)
        for route in get_routes(app):
            with app.test_request_context():
                url = site.url_for(route)
            response = client.get(url, follow_redirects=True)
            if response.mimetype != "text/html":
                continue
            seen += 1
            problems += [f"{role} {url}: {p}" for p in csp_violations(response.get_data(True))]
    assert seen >= len(get_routes(app)), "the crawl rendered fewer pages than there are routes"
    assert not problems, "\n".join(problems)


def test_the_checker_catches_what_csp_would_block():
    page = ('<p style="color:red">x</p><script>alert(1)</script><img src=x onerror="alert(1)">'
            '<a href=" JavaScript:alert(1)">x</a><svg onload="alert(1)"></svg>'
            '<script src="https://cdn.example/x.js"></script><style>p{}</style>'
            '<script src="/static/js/audits.js" defer></script>')
    problems = csp_violations(page)
    assert len(problems) == 7, problems
    assert csp_violations('<p class="muted">fine</p><svg class="chart"><rect/></svg>') == []
