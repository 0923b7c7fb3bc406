"""A battery of cross-site scripting payloads and the check that none of them became markup.
Feed PAYLOADS through every field a person can type into, render every place the text shows
(pages, PDF text, CSV, API), and call `assert_no_injection` on each."""

from tests.security.pages import csp_violations

PAYLOADS = [
    '<script>alert("xss-1")</script>',
    '"><img src=x onerror=alert("xss-2")>',
    "'><svg onload=alert('xss-3')>",
    'javascript:alert("xss-4")',
    '<a href="javascript:alert(5)">xss-5</a>',
    '<svg><script>alert("xss-6")</script></svg>',
    '</textarea></title><script>alert("xss-7")</script>',
    "{{ 7*7 }}xss-8 {% raw %}",
    '<iframe src="javascript:alert(9)"></iframe>',
    '[xss-10](javascript:alert(10))',
    "<style>body{display:none}</style>xss-11",
    '<math><mtext><table><mglyph><style><img src=x onerror=alert("xss-12")>',
]


def assert_no_injection(html: str, where: str = "") -> None:
    problems = csp_violations(html)
    assert not problems, f"{where}: injected markup:\n" + "\n".join(problems)
    assert "49xss-8" not in html, f"{where}: a template expression was evaluated"
