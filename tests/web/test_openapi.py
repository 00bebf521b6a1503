"""The OpenAPI document of /api/v1 against the app, with schemathesis: generated requests must
never get a 500, answers must match the documented status codes, content types, schemas and
headers, and undeclared methods get a 405 with the right Allow header. (Whether a given valid
string is accepted depends on the filter language and on which recordings exist, which a
schema cannot say: the positive/negative data checks are not run.) Bounded: a few examples
per operation, over a folder of its own."""
from __future__ import annotations

import os

import pytest

schemathesis = pytest.importorskip("schemathesis")
from hypothesis import HealthCheck, settings  # noqa: E402
from webtools import make_demo, make_legacy  # noqa: E402

from evlog.web import create_app  # noqa: E402


def _app(tmp: str):
    root = os.path.join(tmp, "recordings")
    os.makedirs(root, exist_ok=True)
    make_demo(root, n=60)
    make_legacy(root)
    return create_app(root)


_TMP = __import__("tempfile").mkdtemp(prefix="evlog-openapi-")
APP = _app(_TMP)
schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", APP)


def test_document_is_served_and_names_every_v1_route():
    doc = APP.test_client().get("/api/v1/openapi.json").json
    assert doc["openapi"].startswith("3.") and doc["servers"] == [{"url": "/api/v1"}]
    import re
    routes = {re.sub(r"<(?:[^:>]+:)?([a-z_]+)>", r"{\1}", r.rule)[len("/api/v1"):]
              for r in APP.url_map.iter_rules() if r.endpoint.startswith("v1.") and "openapi" not in r.rule}
    assert routes == set(doc["paths"])


@schema.parametrize()
@settings(max_examples=6, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
def test_api_matches_its_document(case):
    from schemathesis import checks as c
    case.call_and_validate(checks=[c.not_a_server_error, c.status_code_conformance, c.content_type_conformance,
                                   c.response_schema_conformance, c.response_headers_conformance,
                                   c.allow_header_conformance, c.unsupported_method],
                           excluded_checks=[c.positive_data_acceptance, c.negative_data_rejection])
