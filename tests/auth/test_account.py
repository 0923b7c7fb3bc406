"""The account page: who you are, as the app knows you."""

import re


def _teams(html: str) -> str:
    return re.search(r"<dt>Teams</dt><dd>(.*?)</dd>", html).group(1)


def test_the_account_page_names_your_teams_and_roles(client, login_as, people):
    login_as("operator")  # an operator of Alpha
    html = client.get("/account").get_data(as_text=True)
    assert people["operator"].email in html
    assert _teams(html) == "Alpha (operator)"
    login_as("auditor")  # in no team
    assert _teams(client.get("/account").get_data(as_text=True)) == "—"
