"""The OpenAPI 3.1 description of REST API v1, served at GET /api/openapi.json.

Generated, not written: the paths come from ``v1.OPERATIONS`` (the same list the routes are built from) and the
schemas from the typed models in ``v1_models`` (the same models the routes validate with), so the document cannot
drift from the server.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

VERSION = "1.1.0"
REF = "#/components/schemas/{model}"


def _ref(model: type[BaseModel]) -> dict[str, str]:
    return {"$ref": REF.format(model=model.__name__)}


def _query_parameters(model: type[BaseModel]) -> list[dict[str, Any]]:
    schema = model.model_json_schema(ref_template=REF)
    out = []
    for name, prop in schema["properties"].items():
        prop = dict(prop)
        description = prop.pop("description", "")
        prop.pop("title", None)
        # A query parameter is absent or text: "or null" has no spelling in a URL, so it is left out.
        if "anyOf" in prop:
            (prop_type,) = [p for p in prop.pop("anyOf") if p.get("type") != "null"]
            prop.update(prop_type)
        if prop.get("default", "") is None:
            del prop["default"]
        out.append({"name": name, "in": "query", "required": name in schema.get("required", []),
                    "description": description, "schema": prop})
    return out


@lru_cache(maxsize=1)
def document() -> dict[str, Any]:
    from atlas_app.api import v1

    bodies = {op.body for op in v1.OPERATIONS if op.body is not None}
    answers = {m for op in v1.OPERATIONS for m, _ in op.responses.values() if m is not None}
    pairs = [(m, "validation") for m in sorted(bodies, key=lambda m: m.__name__)]
    pairs += [(m, "serialization") for m in sorted(answers, key=lambda m: m.__name__)]
    _, top = models_json_schema(pairs, ref_template=REF)
    schemas = top.get("$defs", {})

    security = [{"bearerAuth": []}]
    paths: dict[str, Any] = {}
    for op in v1.OPERATIONS:
        entry: dict[str, Any] = {"operationId": op.operation_id, "summary": op.summary, "security": security}
        if op.description:
            entry["description"] = op.description
        parameters = []
        for name, param in op.path_params.items():
            parameters.append({"name": name, "in": "path", "required": True, **param})
        if op.query is not None:
            parameters += _query_parameters(op.query)
        if parameters:
            entry["parameters"] = parameters
        if op.body is not None:
            entry["requestBody"] = {"required": op.body_required,
                                    "content": {"application/json": {"schema": _ref(op.body)}}}
        responses: dict[str, Any] = {}
        for status, (model, description) in sorted(op.responses.items()):
            answer: dict[str, Any] = {"description": description}
            if model is not None:
                answer["content"] = {"application/json": {"schema": _ref(model)}}
            if status in op.headers:
                answer["headers"] = {name: {"schema": {"type": "string"}, "description": text}
                                     for name, text in op.headers[status].items()}
            responses[str(status)] = answer
        entry["responses"] = responses
        paths.setdefault(op.path, {})[op.method.lower()] = entry
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Atlas course booking API",
            "version": VERSION,
            "description": "Sessions, referrals (police offers) and bookings of one organisation. Every request "
                           "sends the organisation's API token as `Authorization: Bearer <token>`; "
                           "administrators make tokens under Administration > API tokens or with "
                           "`python -m atlas_app api-token`. Another organisation's offers, sessions and "
                           "bookings answer 404. Errors are JSON: `{\"error\": \"...\", \"fields\": {...}}`.",
        },
        "servers": [{"url": "/"}],
        "security": security,
        "paths": paths,
        "components": {
            "schemas": schemas,
            "securitySchemes": {"bearerAuth": {"type": "http", "scheme": "bearer",
                                               "description": "An Atlas API token (atl_...)."}},
        },
    }
