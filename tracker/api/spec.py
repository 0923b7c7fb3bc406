"""Operations of the API, declared once: the decorator registers the Flask route, validates
the request with the declared pydantic models, and records everything the OpenAPI 3.1
document needs. The document is built from the same declarations, so it matches."""

import functools
import json
from dataclasses import dataclass, field
from typing import Any

from flask import Blueprint, request
from pydantic import BaseModel, ValidationError
from pydantic.json_schema import models_json_schema

from tracker.api import schemas
from tracker.api.errors import ApiError
from tracker.notifications.payloads import WEBHOOK_EVENTS

JSON = "application/json"
MULTIPART = "multipart/form-data"

STATUS_TEXT = {
    200: "OK", 201: "Created", 204: "Done; nothing to send back",
    400: "Malformed JSON, or a field is missing or of the wrong type",
    401: "Missing, unknown or revoked token", 403: "Your role does not allow this",
    404: "Not found, or not visible to you", 409: "Your version is stale: the body holds the "
    "current item", 413: "Too large", 415: "Wrong content type",
    422: "A business rule refused the change (the message names it); nothing changed",
    503: "Not ready yet (a signed report still being made); retry after Retry-After",
}


@dataclass
class Operation:
    method: str
    path: str
    operation_id: str
    summary: str
    tag: str
    description: str = ""
    body: dict[str, type[BaseModel] | dict] = field(default_factory=dict)  # media type → model
    body_required: bool = True
    query: type[BaseModel] | None = None
    responses: dict[int, Any] = field(default_factory=dict)  # status → model | media dict
    errors: tuple[int, ...] = ()
    public: bool = False


OPERATIONS: list[Operation] = []


def _flask_rule(path: str) -> str:
    return path.replace("{", "<id:").replace("}", ">")


def operation(bp: Blueprint, method: str, path: str, *, summary: str, tag: str,
              body=None, body_required: bool = True, query=None, responses=None,
              errors: tuple[int, ...] = (), public: bool = False, description: str = ""):
    """Register a view as `method path`; a JSON body model arrives as `body=`, a query
    model as `query=`, and a dict of media types for bodies that may come in several."""
    if body is not None and not isinstance(body, dict):
        body = {JSON: body}

    def decorate(fn):
        op = Operation(method=method.upper(), path=path, operation_id=fn.__name__,
                       summary=summary, tag=tag, description=description or (fn.__doc__ or ""),
                       body=body or {}, body_required=body_required, query=query,
                       responses=responses or {200: None}, errors=errors, public=public)
        OPERATIONS.append(op)

        @functools.wraps(fn)
        def view(**kwargs):
            if any(not 1 <= v <= schemas.MAX_ID for v in kwargs.values()):  # no such row
                raise ApiError(404, "not_found", "There is nothing with that id.")
            if op.query is not None:
                kwargs["query"] = parse_query(op.query)
            if op.body:
                kwargs["body"] = parse_body(op)
            return fn(**kwargs)

        bp.add_url_rule(_flask_rule(path), endpoint=fn.__name__, view_func=view,
                        methods=[op.method])
        return view
    return decorate


def _field_errors(exc: ValidationError) -> tuple[str, str | None]:
    first = exc.errors(include_url=False)[0]
    where = ".".join(str(p) for p in first["loc"]) or None
    message = first["msg"]
    if first["type"] == "extra_forbidden":
        message = "is not a field (or parameter) of this request; check the spelling"
    elif first["type"] == "missing":
        message = "is required"
    count = len(exc.errors())
    more = f" (and {count - 1} more problem{'s' if count > 2 else ''})" if count > 1 else ""
    return (f"{where}: {message}{more}." if where else f"{message}{more}."), where


def parse_body(op: Operation):
    """The validated body: a model instance, or for multipart the request's files."""
    mimetype = request.mimetype
    if mimetype not in op.body:
        if not request.content_length and not request.data and not op.body_required:
            return None
        accepted = " or ".join(op.body)
        raise ApiError(415, "unsupported_media_type",
                       f"Send the request body as {accepted} "
                       f"(Content-Type was {mimetype or 'missing'}).")
    model = op.body[mimetype]
    if mimetype == MULTIPART:
        return request.files
    raw = request.get_data(cache=False)
    if not raw.strip():
        if not op.body_required:
            return None
        raise ApiError(400, "malformed_json", "The request body is empty; send a JSON object.")
    candidates = model if isinstance(model, list) else [model]
    errors = []
    for candidate in candidates:
        try:
            return candidate.model_validate_json(raw)
        except ValidationError as exc:
            if any(e["type"] == "json_invalid" for e in exc.errors()):
                raise ApiError(400, "malformed_json", "The request body is not valid JSON: "
                               f"{exc.errors()[0]['msg']}.") from None
            if any(e["type"] == "model_type" for e in exc.errors()) and not exc.errors()[0]["loc"]:
                raise ApiError(400, "malformed_json",
                               "The request body must be a JSON object.") from None
            errors.append(exc)
    best = min(errors, key=lambda e: len(e.errors()))
    message, where = _field_errors(best)
    raise ApiError(400, "invalid_field", message, field=where)


def parse_query(model: type[BaseModel]):
    try:
        return model.model_validate(request.args.to_dict())
    except ValidationError as exc:
        message, where = _field_errors(exc)
        described = model.model_fields.get(where or "")
        if described is not None and described.description:  # it says what to send
            message = f"{message} {described.description}"
        raise ApiError(400, "invalid_parameter", message, field=where) from None


# --- the OpenAPI document -------------------------------------------------------------

def _strip_null_defaults(node):
    """Optional-but-not-nullable fields carry `default: null` in pydantic's output; it says
    nothing useful and contradicts their type, so leave it out."""
    if isinstance(node, dict):
        if node.get("default", 0) is None:
            del node["default"]
        for value in node.values():
            _strip_null_defaults(value)
    elif isinstance(node, list):
        for value in node:
            _strip_null_defaults(value)
    return node


def _models() -> list[tuple[type[BaseModel], str]]:
    found: dict[tuple, None] = {(schemas.Error, "serialization"): None}
    for op in OPERATIONS:
        for model in op.body.values():
            if isinstance(model, list):
                for m in model:
                    found[(m, "validation")] = None
            elif isinstance(model, type):
                found[(model, "validation")] = None
        for response in op.responses.values():
            if isinstance(response, type):
                found[(response, "serialization")] = None
    for event in WEBHOOK_EVENTS:
        found[(event.data, "serialization")] = None
    return list(found)


def _ref(keys, model, mode):
    return keys[(model, mode)]


def _query_parameters(model: type[BaseModel], defs: dict) -> list[dict]:
    schema = model.model_json_schema(ref_template="#/components/schemas/{model}")
    for name, sub in schema.get("$defs", {}).items():
        defs.setdefault(name, sub)
    required = set(schema.get("required", []))
    return [{"name": name, "in": "query", "required": name in required,
             "schema": _strip_null_defaults(_not_null(prop))}
            for name, prop in schema["properties"].items()]


def _not_null(prop: dict) -> dict:
    """A query string cannot say null: an optional parameter is simply left out."""
    options = [o for o in prop.get("anyOf", []) if o != {"type": "null"}]
    if len(options) == 1 and len(options) < len(prop.get("anyOf", [])):
        rest = {k: v for k, v in prop.items() if k != "anyOf"}
        return {**options[0], **rest}
    return prop


def _path_parameters(path: str) -> list[dict]:
    names = [part[1:-1] for part in path.split("/") if part.startswith("{")]
    return [{"name": name, "in": "path", "required": True,
             "schema": {"type": "integer", "minimum": 1, "maximum": schemas.MAX_ID}}
            for name in names]


def _error_response(status: int) -> dict:
    return {"description": STATUS_TEXT[status],
            "content": {JSON: {"schema": {"$ref": "#/components/schemas/Error"}}}}


WEBHOOK_HEADERS = (
    ("webhook-id", "The message's id: the same on every attempt, so a receiver can drop a "
                   "repeat."),
    ("webhook-timestamp", "When this attempt was signed, in seconds since 1970."),
    ("webhook-signature", "`v1,` and the base64 HMAC-SHA256 of `{webhook-id}.{webhook-timestamp}"
                          ".{body}`, keyed with the base64 part of the endpoint's `whsec_` "
                          "secret (Standard Webhooks)."),
)


def _webhooks(keys) -> dict:
    """OpenAPI 3.1's `webhooks`: the POST each event type makes to a subscribed endpoint."""
    found = {}
    for event in WEBHOOK_EVENTS:
        body = {"type": "object", "required": ["type", "timestamp", "data"],
                "properties": {"type": {"const": event.type},
                               "timestamp": {"type": "string", "format": "date-time"},
                               "data": _ref(keys, event.data, "serialization")}}
        found[event.type] = {"post": {
            "operationId": "webhook_" + event.type.replace(".", "_"), "summary": event.summary,
            "tags": ["Webhooks"],
            "parameters": [{"name": name, "in": "header", "required": True,
                            "description": text, "schema": {"type": "string"}}
                           for name, text in WEBHOOK_HEADERS],
            "requestBody": {"required": True, "content": {JSON: {"schema": body}}},
            "responses": {"2XX": {"description": "Received. Any other answer, or none within "
                                                 "WEBHOOK_TIMEOUT_SECONDS, is tried again "
                                                 "later, then marked failed."}}}}
    return found


def build_openapi(title: str, version: str, server_url: str) -> dict:
    keys, top = models_json_schema(_models(), ref_template="#/components/schemas/{model}")
    components = dict(top.get("$defs", {}))
    paths: dict[str, dict] = {}
    for op in OPERATIONS:
        entry: dict = {"operationId": op.operation_id, "summary": op.summary, "tags": [op.tag]}
        if op.description.strip():
            entry["description"] = " ".join(op.description.split())
        params = _path_parameters(op.path)
        if op.query is not None:
            params += _query_parameters(op.query, components)
        if params:
            entry["parameters"] = params
        if op.body:
            content = {}
            for media, model in op.body.items():
                if isinstance(model, dict):
                    content[media] = {"schema": model}
                elif isinstance(model, list):
                    content[media] = {"schema": {"oneOf": [_ref(keys, m, "validation")
                                                           for m in model]}}
                else:
                    content[media] = {"schema": _ref(keys, model, "validation")}
            entry["requestBody"] = {"required": op.body_required, "content": content}
        responses: dict[str, dict] = {}
        for status, model in op.responses.items():
            if model is None:
                responses[str(status)] = {"description": STATUS_TEXT[status]}
            elif isinstance(model, dict):
                responses[str(status)] = {"description": model.get("description", "OK"),
                                          "content": model["content"]}
            else:
                responses[str(status)] = {
                    "description": STATUS_TEXT[status],
                    "content": {JSON: {"schema": _ref(keys, model, "serialization")}}}
        codes = set(op.errors) | {400, 404}
        if not op.public:
            codes |= {401}
        if op.body:
            codes |= {413, 415}
        for status in sorted(codes):
            responses[str(status)] = _error_response(status)
        entry["responses"] = responses
        if not op.public:
            entry["security"] = [{"bearerAuth": []}]
        paths.setdefault(op.path, {})[op.method.lower()] = entry
    doc = {
        "openapi": "3.1.0",
        "info": {"title": title, "version": version,
                 "description": "Readiness Tracker's JSON API. Authenticate with "
                                "`Authorization: Bearer <token>`; create a token on your "
                                "account page or with `flask --app app users token EMAIL`. "
                                "Errors are `{\"error\": {\"code\", \"message\"}}`."},
        "servers": [{"url": server_url}],
        "paths": paths,
        "webhooks": _webhooks(keys),
        "components": {
            "schemas": components,
            "securitySchemes": {"bearerAuth": {"type": "http", "scheme": "bearer"}},
        },
    }
    return _strip_null_defaults(json.loads(json.dumps(doc)))
