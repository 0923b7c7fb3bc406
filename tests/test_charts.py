from tracker.charts import Series, heat_index, heatmap, line_chart, status_bar


def test_status_bar_labels_every_status_in_text():
    html = str(status_bar({"met": 3, "not_met": 1, "not_applicable": 1}, title="Items"))
    assert 'role="img"' in html and "<title" in html
    for label in ("Met 3", "Not met 1", "N/A 1", "Blocked 0"):
        assert label in html
    assert "<table" in html  # the numbers behind the chart


def test_chart_text_is_escaped():
    html = str(line_chart(["Q1"], [Series("<script>x</script>", [0.5])], title="<b>t</b>"))
    assert "<script>x" not in html and "&lt;script&gt;" in html
    html = str(heatmap(['"><img src=x onerror=alert(1)>'], ["DV"], [[None]], title="h"))
    assert "<img src=x" not in html


def test_heat_index_buckets():
    assert [heat_index(v) for v in (0, 0.04, 0.05, 0.5, 1, None)] == [0, 0, 0, 5, 10, None]


def test_bar_chart_writes_each_value_and_links_it():
    from tracker.charts import bar_chart

    html = str(bar_chart(["Data & Visibility", "Support"], [3, 1], title="Open signals",
                         links=["/signals/?domain=DV", None]))
    assert "Data &amp; Visibility 3, Support 1" in html and "<table" in html
    # Linked marks make the chart a group: an image's links are out of reach.
    assert 'role="group"' in html and 'role="img"' not in html
    assert '<a href="/signals/?domain=DV">' in html
    assert 'role="img"' in str(bar_chart(["Support"], [1], title="Open signals"))


def test_a_linked_mark_without_text_is_named():
    html = str(status_bar({"met": 3, "not_met": 1}, links={"met": "/items?status=met"}))
    assert 'role="group"' in html
    assert '<a href="/items?status=met" aria-label="Met: 3">' in html


def test_as_table_puts_the_numbers_first():
    html = str(line_chart(["Q1", "Q2"], [Series("Team", [0.5, 0.75])], title="t", as_table=True))
    assert html.index("<table") < html.index("<svg")
    assert "Show as chart" in html and "75%" in html
