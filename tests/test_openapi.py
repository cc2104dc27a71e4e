"""The OpenAPI document is valid, served, and describes every route of the app.
(Every response in the other tests is validated against it by the client fixture.)"""

from openapi_spec_validator import validate

from functions.openapi import build_spec


def test_the_document_is_valid_openapi():
    validate(build_spec())


def test_the_document_is_served(client):
    body = client.get("/api/openapi.json").json
    assert body["openapi"].startswith("3.1")
    assert "/api/metrics/batch" in body["paths"]


def test_every_route_of_the_app_is_documented(app):
    documented = {
        (path, method.upper()) for path, ops in build_spec()["paths"].items() for method in ops
    }
    routes = set()
    for rule in app.url_map.iter_rules():
        if rule.endpoint == "static":
            continue
        path = rule.rule
        for arg in rule.arguments:
            by_id = ("/api/servers/", "/api/silences/", "/api/shares/")
            name = "id" if path.startswith(by_id) else "serverId"
            path = path.replace(f"<int:{arg}>", "{" + name + "}")
        for method in rule.methods - {"HEAD", "OPTIONS"}:
            routes.add((path, method))
    assert routes == documented


def test_the_response_check_catches_a_response_that_breaks_the_document(openapi):
    import json

    import pytest
    from openapi_core.contrib.werkzeug import WerkzeugOpenAPIResponse
    from werkzeug.test import EnvironBuilder
    from werkzeug.wrappers import Request, Response

    from .conftest import SentRequest

    request = SentRequest(Request(EnvironBuilder(path="/api/servers").get_environ()))
    wrong = Response(json.dumps([{"id": "one", "name": 3}]), mimetype="application/json")
    with pytest.raises(Exception, match="(?i)invalid"):
        openapi.validate_response(request, WerkzeugOpenAPIResponse(wrong))
