"""Property-based API test: schemathesis generates requests from /openapi.json (hypothesis drives
them, one operation at a time) against a live server; none may get a 5xx."""

from __future__ import annotations

import schemathesis
from hypothesis import HealthCheck, given, settings

from .conftest import Server, make_store

EXAMPLES = 12  # per operation (about 20 operations); a few seconds in all with the tiny model


def test_no_generated_request_gets_a_server_error(tmp_path, tiny_st_model, tiny_encoder):
    from embedkit.serve import Limits, create_app

    store = make_store(tmp_path / "docs.db", tiny_encoder)
    app = create_app(model=str(tiny_st_model), stores={"docs": store},
                     limits=Limits(max_inputs=16, max_body_bytes=64 * 1024, body_timeout_s=5))
    srv = Server(app)
    try:
        schema = schemathesis.openapi.from_url(srv.url + "/openapi.json")
        operations = [result.ok() for result in schema.get_all_operations()]
        assert len(operations) >= 15
        seen = []
        for operation in operations:
            @given(case=operation.as_strategy())
            @settings(max_examples=EXAMPLES, deadline=None, database=None, derandomize=True,
                      suppress_health_check=list(HealthCheck))
            def no_5xx(case):
                response = case.call(timeout=30)
                seen.append(response.status_code)
                assert response.status_code < 500, (case.method, case.formatted_path, case.body,
                                                    response.status_code, response.text[:300])

            no_5xx()
        assert len(seen) >= len(operations) * 3
        assert any(s < 300 for s in seen) and any(400 <= s < 500 for s in seen)
    finally:
        srv.stop()
