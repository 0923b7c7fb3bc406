def test_library_pages(client, login_as, library):
    login_as("operator")
    index = client.get("/library/").get_data(as_text=True)
    assert "Data &amp; Visibility" in index and "Inventory" in index
    hub = client.get("/library/DV").get_data(as_text=True)
    assert "Address validation failure" in hub
    assert "Shipping labels cannot be generated due to bad data." in hub
    assert "Frontline teams spot issues before dashboards" in hub
    assert "DV-01" in hub
    item = client.get("/library/items/DV-01").get_data(as_text=True)
    assert "Guards against" in item
    assert client.get("/library/items/NOPE-99").status_code == 404
    assert client.get("/library/ZZZ").status_code == 404


def test_library_needs_sign_in(client, library):
    response = client.get("/library/DV")
    assert response.status_code == 302 and "/login" in response.headers["Location"]


def test_hub_page_query_count_is_flat(client, login_as, library, count_queries):
    login_as("operator")
    with count_queries() as small:
        client.get("/library/INV")
    with count_queries() as large:
        client.get("/library/DV")  # more items, content and links
    assert small.count == large.count
