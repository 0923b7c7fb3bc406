"""Hostile input that must end in a clear 400 or 404, never a 500 (ASVS 5, V1 and V2).

- Integer URL parts are bounded to the database's INTEGER range: `/users/9223372036854775808`
  is a 404, not an overflow inside the database driver.
- Text URL parts with control characters (NUL, tabs, newlines) do not match any route: 404.
- A NUL byte anywhere in the query string, a form field or a JSON body is refused with 400
  before a view runs; PostgreSQL cannot store one, and no legitimate text contains one.
- A JSON body nested deeper than MAX_JSON_DEPTH arrays/objects is refused with 400: no
  request the API documents goes past three levels, and a deep one would otherwise exhaust
  the interpreter's recursion limit in whatever walks it next.
"""

from flask import Flask, abort, request
from werkzeug.exceptions import RequestEntityTooLarge
from werkzeug.routing import IntegerConverter, UnicodeConverter, ValidationError

# Every id column is a 32-bit INTEGER on PostgreSQL; SQLite's limit is larger.
MAX_ID = 2**31 - 1
MAX_PAGE = 100_000  # past any real list; a bigger page number would overflow SQL's OFFSET
NUL_REFUSED = ("The request contains a NUL character, which no field accepts. Remove it "
               "(it often comes from copying binary data) and try again.")
MAX_JSON_DEPTH = 32
TOO_DEEP = (f"The JSON body is nested more than {MAX_JSON_DEPTH} levels deep; no request "
            "needs that. Send a flatter document (see /api/v1/openapi.json).")


class _TooDeep(Exception):
    pass


def page_arg() -> int:
    """`?page=` as a list's page number: 1..MAX_PAGE, anything else is page 1 or the last
    allowed (an empty page then says there is nothing more)."""
    return min(max(request.args.get("page", 1, type=int) or 1, 1), MAX_PAGE)


class BoundedIntegerConverter(IntegerConverter):
    """`<int:...>` with 0 < value ≤ MAX_ID unless a route says otherwise."""

    def __init__(self, map, fixed_digits=0, min=None, max=None, signed=False):  # noqa: A002
        super().__init__(map, fixed_digits=fixed_digits, min=min, max=max or MAX_ID,
                         signed=signed)

    def to_python(self, value):
        # A 10 kB digit string never reaches int(), which refuses more than 4,300 digits
        # with a ValueError (a 500) rather than a routing miss.
        if len(value) > len(str(self.max)):
            raise ValidationError()
        return super().to_python(value)


class AnyIdConverter(IntegerConverter):
    """`<id:...>` (the API's ids): every digit string matches, and one past MAX_ID stands
    for any larger, so the view answers 404. Were a path with GET and POST to miss the
    route for one method, werkzeug would answer 405, naming the other."""

    def to_python(self, value):
        return int(value) if len(value) <= len(str(MAX_ID)) else MAX_ID + 1


class PrintableConverter(UnicodeConverter):
    """`<name>` / `<string:name>` without control characters, at most 200 characters by
    default (codes, slugs, periods); a route that needs longer text says `maxlength=`."""

    def __init__(self, map, minlength=1, maxlength=200, length=None):
        super().__init__(map, minlength=minlength, maxlength=maxlength, length=length)
        self.regex = self.regex.replace("[^/]", "[^/\\x00-\\x1f\\x7f]")


def _has_nul(value) -> bool:
    """Whether a NUL is in any string of a parsed JSON document (keys too), walked with an
    explicit stack; raises _TooDeep past MAX_JSON_DEPTH levels."""
    stack = [(value, 0)]
    while stack:
        value, depth = stack.pop()
        if isinstance(value, str):
            if "\x00" in value:
                return True
        elif isinstance(value, dict | list):
            if depth >= MAX_JSON_DEPTH:
                raise _TooDeep
            items = value.items() if isinstance(value, dict) else enumerate(value)
            for key, item in items:
                if isinstance(key, str) and "\x00" in key:
                    return True
                stack.append((item, depth + 1))
    return False


def _json_body():
    """The parsed JSON body, or None when it is not JSON (the view says so). A document so
    deep that the parser itself runs out of stack counts as too deep."""
    try:
        return request.get_json(silent=True)
    except RecursionError:
        raise _TooDeep from None


def init_input_guards(app: Flask) -> None:
    app.url_map.converters["int"] = BoundedIntegerConverter
    app.url_map.converters["id"] = AnyIdConverter
    app.url_map.converters["default"] = PrintableConverter
    app.url_map.converters["string"] = PrintableConverter

    @app.before_request
    def refuse_nul_bytes():
        try:
            # A JSON body has no form fields: not parsed for them (the API's busiest path).
            form = [] if request.is_json else list(request.form.items(multi=True))
        except RequestEntityTooLarge:
            form = []  # the view answers an oversized upload with its own message
        if "\x00" in request.path or any(
            _has_nul(k) or _has_nul(v)
            for k, v in [*request.args.items(multi=True), *form]
        ):
            abort(400, NUL_REFUSED)
        if request.is_json:
            try:
                nul = _has_nul(_json_body())
            except _TooDeep:
                abort(400, TOO_DEEP)
            if nul:
                abort(400, NUL_REFUSED)
