"""Server-side SVG charts: the same markup on the page and in the PDF report.

Every chart is a <figure> holding an accessible SVG (role="img", or "group" when its marks
are links; <title>, <desc>) and, behind a <details> toggle that works without JavaScript, the
table of its numbers. Colours are SVG presentation attributes (no inline style, so the page
CSP holds), and every colour comes with a text label.
"""

import itertools
from dataclasses import dataclass
from html import escape

from markupsafe import Markup

STATUS_ORDER = ["met", "not_met", "blocked", "in_progress", "not_started", "not_applicable"]
STATUS_LABELS = {"met": "Met", "not_met": "Not met", "blocked": "Blocked",
                 "in_progress": "In progress", "not_started": "Not started",
                 "not_applicable": "N/A"}
STATUS_FILL = {"met": "#1a7f37", "not_met": "#cf222e", "blocked": "#bf8700",
               "in_progress": "#0969da", "not_started": "#8c959f"}
HEAT_FILLS = ["#ff8182", "#fd8e78", "#fb9c6e", "#f9a965", "#f7b75b", "#f5c451", "#d5c559",
              "#b6c560", "#96c668", "#77c66f", "#57c777"]
SERIES_COLOURS = ["#0969da", "#8250df", "#1a7f37", "#bf3989", "#bc4c00", "#116329",
                  "#57606a", "#cf222e"]
DRAFT = "draft"  # a heatmap value: an audit in scope that is not scored yet
DRAFT_FILL = "#eaeef2"
FONT = 'font-family="DejaVu Sans, Helvetica, Arial, sans-serif"'

_ids = itertools.count(1)


def _uid(prefix: str) -> str:
    return f"{prefix}{next(_ids)}"


def _e(text) -> str:
    return escape(str(text), quote=True)


def _svg(uid: str, width: int, height: int, font_size: int, *, linked: bool) -> str:
    """The chart's opening tag. A chart whose marks are links is a group, not an image: an
    image's parts are hidden from assistive technology, so its links would be unreachable."""
    role = "group" if linked else "img"
    return (f'<svg class="chart" viewBox="0 0 {width} {height}" width="{width}" '
            f'height="{height}" role="{role}" aria-labelledby="{uid}t {uid}d" '
            f'xmlns="http://www.w3.org/2000/svg" {FONT} font-size="{font_size}">')


def _link(href: str, body: str, label: str | None = None) -> str:
    """A linked mark; one without text of its own is named by `label` (an SVG shape's
    <title> does not name its link)."""
    name = f' aria-label="{_e(label)}"' if label else ""
    return f'<a href="{_e(href)}"{name}>{body}</a>'


def _figure(svg: str, caption: str, table: str, *, show_table_toggle: bool = True,
            as_table: bool = False) -> Markup:
    """The chart with its table behind a toggle — or, as_table, the table first and the
    chart behind the toggle (for readers who prefer numbers)."""
    # Every piece of text in `svg`, `caption` and `table` went through _e(): safe to mark.
    caption_html = f'<figcaption class="small muted">{_e(caption)}</figcaption>'
    if as_table:
        return Markup(f'<figure class="chart-figure">{table}{caption_html}<details '  # nosec B704
                      f'class="chart-table"><summary>Show as chart</summary>{svg}</details>'
                      '</figure>')
    toggle = (f'<details class="chart-table"><summary>Show as table</summary>{table}</details>'
              if show_table_toggle else "")
    return Markup(f'<figure class="chart-figure">{svg}{caption_html}{toggle}</figure>')  # nosec B704


def heat_index(fraction: float | None) -> int | None:
    """0..10 bucket of a 0..1 score, for the .heat-N classes and fills."""
    if fraction is None:
        return None
    return max(0, min(10, int(round(fraction * 10))))


def _hatch(pattern_id: str) -> str:
    return (f'<defs><pattern id="{pattern_id}" width="6" height="6" '
            'patternUnits="userSpaceOnUse" patternTransform="rotate(45)">'
            '<rect width="6" height="6" fill="#eaeef2"/>'
            '<line x1="0" y1="0" x2="0" y2="6" stroke="#8c959f" stroke-width="3"/>'
            '</pattern></defs>')


def status_bar(counts: dict[str, int], *, title: str = "Items by status", width: int = 640,
               links: dict[str, str] | None = None, table: bool = True,
               as_table: bool = False) -> Markup:
    """A horizontal stacked bar of item counts by status, with a labelled legend."""
    total = sum(counts.get(s, 0) for s in STATUS_ORDER)
    uid = _uid("sb")
    bar_h, legend_h = 28, 22
    height = bar_h + 12 + legend_h * ((len(STATUS_ORDER) + 2) // 3)
    parts = [_svg(uid, width, height, 12, linked=bool(links)),
             f'<title id="{uid}t">{_e(title)}</title>']
    desc = ", ".join(f"{STATUS_LABELS[s]} {counts.get(s, 0)}" for s in STATUS_ORDER)
    parts.append(f'<desc id="{uid}d">{_e(desc)} (total {total})</desc>')
    parts.append(_hatch(f"{uid}h"))
    x = 0.0
    if total == 0:
        parts.append(f'<rect x="0" y="0" width="{width}" height="{bar_h}" fill="#eaeef2"/>'
                     f'<text x="8" y="18" fill="#424a53">No items</text>')
    for status in STATUS_ORDER:
        n = counts.get(status, 0)
        if not n or not total:
            continue
        w = width * n / total
        fill = f"url(#{uid}h)" if status == "not_applicable" else STATUS_FILL[status]
        rect = (f'<rect x="{x:.2f}" y="0" width="{w:.2f}" height="{bar_h}" fill="{fill}">'
                f'<title>{_e(STATUS_LABELS[status])}: {n}</title></rect>')
        if links and status in links:
            rect = _link(links[status], rect, f"{STATUS_LABELS[status]}: {n}")
        parts.append(rect)
        if w > 26:
            colour = "#1f2328" if status in ("not_applicable", "not_started") else "#ffffff"
            parts.append(f'<text x="{x + w / 2:.2f}" y="18" text-anchor="middle" '
                         f'fill="{colour}" font-weight="bold">{n}</text>')
        x += w
    for i, status in enumerate(STATUS_ORDER):
        lx, ly = (i % 3) * (width / 3), bar_h + 12 + (i // 3) * legend_h
        fill = f"url(#{uid}h)" if status == "not_applicable" else STATUS_FILL[status]
        label = f"{STATUS_LABELS[status]} {counts.get(status, 0)}"
        if total:
            label += f" ({100 * counts.get(status, 0) / total:.0f}%)"
        parts.append(f'<rect x="{lx:.1f}" y="{ly}" width="12" height="12" fill="{fill}" '
                     f'stroke="#57606a" stroke-width="0.5"/>'
                     f'<text x="{lx + 18:.1f}" y="{ly + 10}" fill="#1f2328">{_e(label)}</text>')
    parts.append("</svg>")
    rows = "".join(f"<tr><th scope=\"row\">{_e(STATUS_LABELS[s])}</th>"
                   f"<td class=\"num\">{counts.get(s, 0)}</td></tr>" for s in STATUS_ORDER)
    tbl = (f'<table class="table table-compact"><caption class="visually-hidden">{_e(title)}'
           f'</caption><thead><tr><th scope="col">Status</th><th scope="col" class="num">Items'
           f'</th></tr></thead><tbody>{rows}<tr><th scope="row">Total</th>'
           f'<td class="num">{total}</td></tr></tbody></table>')
    return _figure("".join(parts), f"{title}: {desc}.", tbl, show_table_toggle=table,
                   as_table=as_table)


@dataclass
class Series:
    name: str
    values: list[float | None]  # one per x label; fractions 0..1, None where absent


def line_chart(x_labels: list[str], series: list[Series], *, title: str, width: int = 640,
               height: int = 240, table: bool = True, as_table: bool = False,
               table_series: list[Series] | None = None) -> Markup:
    """Scores (0..1) over periods, one line per series, y axis 0–100%. `table_series`, when
    given, is what the table lists (more rows than a chart can show lines)."""
    uid = _uid("lc")
    left, right, top, bottom = 44, 36, 16, 44
    legend_rows = (len(series) + 2) // 3
    total_h = height + legend_rows * 20
    plot_w, plot_h = width - left - right, height - top - bottom
    step = plot_w / max(1, len(x_labels) - 1)

    def xy(i, v):
        return left + (i * step if len(x_labels) > 1 else plot_w / 2), top + plot_h * (1 - v)

    parts = [_svg(uid, width, total_h, 11, linked=False),
             f'<title id="{uid}t">{_e(title)}</title>']
    desc = "; ".join(
        f"{s.name}: " + ", ".join(f"{x} {'—' if v is None else f'{v * 100:.0f}%'}"
                                   for x, v in zip(x_labels, s.values, strict=False))
        for s in series)
    parts.append(f'<desc id="{uid}d">{_e(desc)}</desc>')
    for pct in (0, 25, 50, 75, 100):
        _, y = xy(0, pct / 100)
        parts.append(f'<line x1="{left}" y1="{y:.1f}" x2="{width - right}" y2="{y:.1f}" '
                     f'stroke="#d0d7de" stroke-width="1"/>'
                     f'<text x="{left - 6}" y="{y + 4:.1f}" text-anchor="end" '
                     f'fill="#57606a">{pct}%</text>')
    for i, label in enumerate(x_labels):
        x, _ = xy(i, 0)
        parts.append(f'<text x="{x:.1f}" y="{top + plot_h + 18}" text-anchor="middle" '
                     f'fill="#57606a">{_e(label)}</text>')
    for k, s in enumerate(series):
        colour = SERIES_COLOURS[k % len(SERIES_COLOURS)]
        points = [(xy(i, v), v) for i, v in enumerate(s.values) if v is not None]
        if len(points) > 1:
            d = " ".join(f"{x:.1f},{y:.1f}" for (x, y), _ in points)
            parts.append(f'<polyline points="{d}" fill="none" stroke="{colour}" '
                         f'stroke-width="2.5"/>')
        for (x, y), v in points:
            parts.append(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="3.5" fill="{colour}">'
                         f'<title>{_e(s.name)}: {v * 100:.0f}%</title></circle>')
        lx = (k % 3) * (width / 3) + left / 2
        ly = height + (k // 3) * 20
        parts.append(f'<rect x="{lx:.1f}" y="{ly - 9}" width="14" height="4" fill="{colour}"/>'
                     f'<text x="{lx + 20:.1f}" y="{ly - 4}" fill="#1f2328">{_e(s.name)}</text>')
    parts.append("</svg>")
    head = "".join(f'<th scope="col" class="num">{_e(x)}</th>' for x in x_labels)
    rows = "".join(
        f'<tr><th scope="row">{_e(s.name)}</th>' + "".join(
            f'<td class="num">{"—" if v is None else f"{v * 100:.0f}%"}</td>' for v in s.values)
        + "</tr>" for s in (series if table_series is None else table_series))
    tbl = (f'<table class="table table-compact"><caption class="visually-hidden">{_e(title)}'
           f'</caption><thead><tr><th scope="col"></th>{head}</tr></thead><tbody>{rows}'
           f'</tbody></table>')
    return _figure("".join(parts), title, tbl, show_table_toggle=table, as_table=as_table)


def heatmap(row_labels: list[str], col_labels: list[str],
            values: list[list[float | str | None]], *, title: str,
            links: list[list[str | None]] | None = None, cell_w: int = 72, cell_h: int = 30,
            label_w: int = 180, table: bool = True, as_table: bool = False) -> Markup:
    """Scores (0..1) per row × column, red → green, the percentage written in each cell;
    None (no audit: hatched, "—") or DRAFT (an audit not scored yet: grey, "draft")."""
    uid = _uid("hm")
    width = label_w + cell_w * len(col_labels)
    height = 26 + cell_h * len(row_labels)
    linked = bool(links) and any(href for row in links for href in row)
    parts = [_svg(uid, width, height, 11, linked=linked),
             f'<title id="{uid}t">{_e(title)}</title>',
             f'<desc id="{uid}d">{_e(title)}; the table below lists every value.</desc>',
             _hatch(f"{uid}h")]
    for j, col in enumerate(col_labels):
        parts.append(f'<text x="{label_w + j * cell_w + cell_w / 2}" y="16" '
                     f'text-anchor="middle" font-weight="bold" fill="#1f2328">{_e(col)}</text>')
    for i, row in enumerate(row_labels):
        y = 26 + i * cell_h
        parts.append(f'<text x="{label_w - 8}" y="{y + cell_h / 2 + 4}" text-anchor="end" '
                     f'fill="#1f2328">{_e(row)}</text>')
        for j, _ in enumerate(col_labels):
            v = values[i][j]
            x = label_w + j * cell_w
            fill = (f"url(#{uid}h)" if v is None else DRAFT_FILL if v == DRAFT
                    else HEAT_FILLS[heat_index(v)])
            text = _cell_text(v)
            cell = (f'<rect x="{x + 1}" y="{y + 1}" width="{cell_w - 2}" height="{cell_h - 2}" '
                    f'rx="3" fill="{fill}"><title>{_e(row)} · {_e(col_labels[j])}: {text}'
                    f'</title></rect><text x="{x + cell_w / 2}" y="{y + cell_h / 2 + 4}" '
                    f'text-anchor="middle" fill="#1f2328">{text}</text>')
            href = links[i][j] if links else None
            parts.append(_link(href, cell, f"{row} · {col_labels[j]}: {text}") if href else cell)
    parts.append("</svg>")
    head = "".join(f'<th scope="col" class="num">{_e(c)}</th>' for c in col_labels)
    body = []
    for i, row in enumerate(row_labels):
        cells = []
        for j, v in enumerate(values[i]):
            text = _cell_text(v)
            href = links[i][j] if links else None
            content = f'<a href="{_e(href)}">{text}</a>' if href else text
            cells.append(f'<td class="num">{content}</td>')
        body.append(f'<tr><th scope="row">{_e(row)}</th>{"".join(cells)}</tr>')
    tbl = (f'<table class="table table-compact"><caption class="visually-hidden">{_e(title)}'
           f'</caption><thead><tr><th scope="col"></th>{head}</tr></thead>'
           f'<tbody>{"".join(body)}</tbody></table>')
    legend = "— means no audit in scope"
    if any(v == DRAFT for row in values for v in row):
        legend += "; draft: planned, not scored until work starts"
    return _figure("".join(parts), f"{title} ({legend}).", tbl,
                   show_table_toggle=table, as_table=as_table)


def _cell_text(v: float | str | None) -> str:
    return "—" if v is None else v if isinstance(v, str) else f"{v * 100:.0f}%"


def bar_chart(labels: list[str], values: list[int], *, title: str, value_label: str = "Count",
              links: list[str | None] | None = None, width: int = 640, label_w: int = 180,
              table: bool = True, as_table: bool = False) -> Markup:
    """Counts as horizontal bars, the number written beside each bar."""
    uid = _uid("bc")
    bar_h, gap = 22, 8
    height = gap + len(labels) * (bar_h + gap)
    plot_w = width - label_w - 48
    top = max(values, default=0) or 1
    desc = ", ".join(f"{label} {v}" for label, v in zip(labels, values, strict=True))
    parts = [_svg(uid, width, height, 12, linked=bool(links) and any(links)),
             f'<title id="{uid}t">{_e(title)}</title>', f'<desc id="{uid}d">{_e(desc)}</desc>']
    for i, (label, v) in enumerate(zip(labels, values, strict=True)):
        y = gap + i * (bar_h + gap)
        w = plot_w * v / top
        bar = (f'<text x="{label_w - 8}" y="{y + bar_h / 2 + 4}" text-anchor="end" '
               f'fill="#1f2328">{_e(label)}</text>'
               f'<rect x="{label_w}" y="{y}" width="{max(w, 2):.1f}" height="{bar_h}" rx="3" '
               f'fill="{SERIES_COLOURS[0]}"><title>{_e(label)}: {v}</title></rect>'
               f'<text x="{label_w + max(w, 2) + 6:.1f}" y="{y + bar_h / 2 + 4}" '
               f'fill="#1f2328" font-weight="bold">{v}</text>')
        href = links[i] if links else None
        parts.append(_link(href, bar) if href else bar)  # named by its label and number
    parts.append("</svg>")
    rows = []
    for i, (label, v) in enumerate(zip(labels, values, strict=True)):
        href = links[i] if links else None
        number = f'<a href="{_e(href)}">{v}</a>' if href else str(v)
        rows.append(f'<tr><th scope="row">{_e(label)}</th><td class="num">{number}</td></tr>')
    tbl = (f'<table class="table table-compact"><caption class="visually-hidden">{_e(title)}'
           f'</caption><thead><tr><th scope="col"></th><th scope="col" class="num">'
           f'{_e(value_label)}</th></tr></thead><tbody>{"".join(rows)}</tbody></table>')
    return _figure("".join(parts), f"{title}: {desc}.", tbl, show_table_toggle=table,
                   as_table=as_table)


def progress_bar(fraction: float | None, *, title: str = "Progress", width: int = 320) -> Markup:
    """A single bar for PDF and pages alike (the page macro ui.progress is HTML/CSS)."""
    uid = _uid("pb")
    v = max(0.0, min(1.0, fraction or 0.0))
    text = "—" if fraction is None else f"{v * 100:.0f}%"
    svg = (f'<svg class="chart" viewBox="0 0 {width} 20" width="{width}" height="20" role="img" '
           f'aria-labelledby="{uid}t" xmlns="http://www.w3.org/2000/svg" {FONT} font-size="11">'
           f'<title id="{uid}t">{_e(title)}: {text}</title>'
           f'<rect x="0" y="4" width="{width - 48}" height="12" rx="6" fill="#eaeef2"/>'
           f'<rect x="0" y="4" width="{(width - 48) * v:.1f}" height="12" rx="6" fill="#1a7f37"/>'
           f'<text x="{width - 4}" y="14" text-anchor="end" fill="#1f2328">{text}</text></svg>')
    # Numbers and _e()-escaped text only.
    return Markup(svg)  # nosec B704
