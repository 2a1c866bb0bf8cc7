"""API client: settings and credentials, headers, request bodies, and error mapping."""

from __future__ import annotations

import gzip
import json
import logging
import ssl
from typing import Any

import httpx
import pytest
from test_api_support import BASE, KEY, TOKEN, call, client, json_response, run, settings

from reconciler import __version__
from reconciler.api import ApiSettings, Credentials, IonworksClient
from reconciler.api.session import tls_context
from reconciler.errors import (
    ApiError,
    AuthenticationError,
    ConfigError,
    ConflictError,
    NotFoundError,
    PermissionDeniedError,
    RequestRejectedError,
    ServerError,
    TransportError,
    UnexpectedResponseError,
)

SPEC = {"id": "s1", "name": "LG M50", "project_id": "proj-1"}


# -- settings and credentials ------------------------------------------------------------------


def test_from_env_reads_every_variable() -> None:
    env = {
        "IONWORKS_API_KEY": KEY,
        "IONWORKS_ORGANIZATION_ID": "org-9",
        "IONWORKS_API_URL": "http://127.0.0.1:8000/api/",
        "IONWORKS_PROJECT_ID": "proj-7",
    }
    got = ApiSettings.from_env(env)
    assert got.base_url == "http://127.0.0.1:8000/api"
    assert got.project_id == "proj-7"
    assert got.credentials == Credentials(api_key=KEY, organization_id="org-9")


def test_from_env_defaults_and_blank_values_count_as_unset() -> None:
    got = ApiSettings.from_env({"IONWORKS_API_KEY": f" {KEY}\n", "IONWORKS_API_URL": " "})
    assert got.base_url == "https://api.ionworks.com"
    assert got.credentials.api_key == KEY
    assert got.project_id is None


def test_token_wins_over_key_from_the_same_source() -> None:
    got = ApiSettings.from_env({"IONWORKS_API_KEY": KEY, "IONWORKS_API_TOKEN": TOKEN})
    assert got.credentials.headers() == {"Authorization": f"Bearer {TOKEN}"}


def test_explicit_key_replaces_env_credentials_entirely() -> None:
    env = {"IONWORKS_API_TOKEN": TOKEN, "IONWORKS_API_KEY": "env-key"}
    got = ApiSettings.from_env(env, api_key="flag-key", token=None)
    assert got.credentials.headers() == {"X-API-Key": "flag-key"}


def test_explicit_overrides_win_and_none_means_not_given() -> None:
    env = {"IONWORKS_API_KEY": KEY, "IONWORKS_PROJECT_ID": "env-proj", "IONWORKS_API_URL": BASE}
    got = ApiSettings.from_env(
        env, project_id="flag-proj", base_url=None, organization_id="org-2", timeout=3.0
    )
    assert (got.project_id, got.base_url, got.timeout) == ("flag-proj", BASE, 3.0)
    assert got.credentials.headers()["X-Organization-Id"] == "org-2"


def test_deprecated_project_id_is_a_fallback_with_a_warning() -> None:
    with pytest.warns(FutureWarning, match="IONWORKS_PROJECT_ID"):
        got = ApiSettings.from_env({"IONWORKS_API_KEY": KEY, "PROJECT_ID": "old"})
    assert got.project_id == "old"
    newer = ApiSettings.from_env(
        {"IONWORKS_API_KEY": KEY, "PROJECT_ID": "old", "IONWORKS_PROJECT_ID": "new"}
    )
    assert newer.project_id == "new"


def test_missing_credentials_name_the_variables_and_flags() -> None:
    with pytest.raises(ConfigError) as caught:
        ApiSettings.from_env({"IONWORKS_ORGANIZATION_ID": "org"})
    for hint in ("IONWORKS_API_KEY", "IONWORKS_API_TOKEN", "--api-key"):
        assert hint in str(caught.value)


def test_client_refuses_to_start_without_credentials() -> None:
    with pytest.raises(ConfigError, match="IONWORKS_API_KEY"):
        IonworksClient(ApiSettings(base_url=BASE))


def test_unknown_override_is_a_programming_error() -> None:
    with pytest.raises(TypeError, match="api_secret"):
        ApiSettings.from_env({"IONWORKS_API_KEY": KEY}, api_secret="x")


@pytest.mark.parametrize("url", ["api.ionworks.com", "ftp://host", "http://"])
def test_bad_base_url_is_a_config_error(url: str) -> None:
    with pytest.raises(ConfigError, match="http:// or https://"):
        ApiSettings(base_url=url)


def test_base_url_with_a_password_is_refused_without_echoing_it() -> None:
    with pytest.raises(ConfigError) as caught:
        ApiSettings(base_url="https://me:hunter2secret@api.test")
    assert "hunter2secret" not in str(caught.value)


@pytest.mark.parametrize(
    "url",
    [
        f"https://api.test/?api_key={KEY}",
        f"https://api.test/v1?token={KEY}#frag",
        f"https://api.test#{KEY}",
        "https://api.test/?",
    ],
)
def test_base_url_with_a_query_or_fragment_is_refused_without_echoing_it(url: str) -> None:
    with pytest.raises(ConfigError, match="must not contain a query string or fragment") as caught:
        ApiSettings(base_url=url)
    assert KEY not in str(caught.value) and "api.test" not in str(caught.value)


def test_a_base_url_with_a_user_or_password_is_refused_naming_flag_and_variable() -> None:
    with pytest.raises(ConfigError, match="user name or password") as caught:
        ApiSettings(base_url=f"https://lab:{KEY}@api.test")
    assert KEY not in str(caught.value) and "lab:" not in str(caught.value)
    assert "--api-url" in str(caught.value) and "IONWORKS_API_URL" in str(caught.value)


@pytest.mark.parametrize("org", ["acmé-lab", "acme lab", "acme\nlab", "acme\u200blab"])
def test_an_organization_id_a_header_cannot_carry_is_refused_without_echoing_it(org: str) -> None:
    with pytest.raises(ConfigError, match=r"organization id .* non-ASCII") as caught:
        Credentials(api_key=KEY, organization_id=org)
    assert "acme" not in str(caught.value)
    assert Credentials(api_key=KEY, organization_id=" org-1\n").organization_id == "org-1"


@pytest.mark.parametrize(
    "field",
    [
        {"timeout": 0},
        {"concurrency": 0},
        {"max_retries": -1},
        {"max_response_bytes": 0},
        {"max_list_rows": 0},
    ],
)
def test_nonsense_tuning_is_a_config_error(field: dict[str, Any]) -> None:
    with pytest.raises(ConfigError):
        ApiSettings(**field)


def test_reprs_never_show_secrets() -> None:
    creds = Credentials(api_key=KEY, token=TOKEN, organization_id="org-1")
    api = IonworksClient(settings(credentials=creds))
    for text in (repr(creds), str(creds), repr(settings(credentials=creds)), repr(api)):
        assert KEY not in text and TOKEN not in text
        assert "***" in text
    assert "org-1" in repr(creds)
    run(api.aclose())


# -- what goes on the wire ---------------------------------------------------------------------


def _capture(sent: list[httpx.Request], reply: Any = SPEC) -> Any:
    def handler(request: httpx.Request) -> httpx.Response:
        sent.append(request)
        return json_response(200, reply)

    return handler


def test_tls_certificates_and_host_names_are_always_verified() -> None:
    context = tls_context()
    assert context.verify_mode == ssl.CERT_REQUIRED
    assert context.check_hostname
    assert tls_context() is context, "built once per process, shared by every client"


def test_headers_on_every_request_with_a_key() -> None:
    sent: list[httpx.Request] = []
    creds = Credentials(api_key=KEY, organization_id="org-3")
    run(call(_capture(sent), lambda api: api.get_spec("s1"), credentials=creds))
    headers = sent[0].headers
    assert headers["accept"] == "application/json"
    assert headers["accept-encoding"] == "gzip", "the one encoding we decode within a cap"
    assert headers["content-type"] == "application/json"
    assert headers["user-agent"] == f"ionworks-apply/{__version__}"
    assert headers["x-api-key"] == KEY
    assert headers["x-organization-id"] == "org-3"
    assert "authorization" not in headers
    assert str(sent[0].url) == f"{BASE}/cell_specifications/s1"


def test_token_is_sent_as_bearer_without_the_key() -> None:
    sent: list[httpx.Request] = []
    creds = Credentials(api_key=KEY, token=TOKEN)
    run(call(_capture(sent), lambda api: api.get_spec("s1"), credentials=creds))
    assert sent[0].headers["authorization"] == f"Bearer {TOKEN}"
    assert "x-api-key" not in sent[0].headers


def test_ids_are_one_path_segment() -> None:
    sent: list[httpx.Request] = []
    run(call(_capture(sent), lambda api: api.get_spec("../projects/x")))
    assert sent[0].url.raw_path == b"/cell_specifications/..%2Fprojects%2Fx"


def test_create_fills_in_the_settings_project() -> None:
    sent: list[httpx.Request] = []
    run(call(_capture(sent), lambda api: api.create_spec({"name": "A", "project_id": None})))
    assert json.loads(sent[0].content) == {"name": "A", "project_id": "proj-1"}
    assert sent[0].method == "POST"


def test_nan_is_never_sent() -> None:
    sent: list[httpx.Request] = []
    body = {"name": "A", "ratings": {"capacity": {"value": float("nan"), "unit": "A*h"}}}
    with pytest.raises(RequestRejectedError) as caught:
        run(call(_capture(sent), lambda api: api.create_spec(body)))
    assert sent == []
    assert caught.value.field_errors == [("ratings.capacity.value", "not a finite number")]
    assert "creating cell specification 'A'" in str(caught.value)


def test_large_bodies_are_gzipped_and_small_ones_are_not() -> None:
    sent: list[httpx.Request] = []
    big = {"name": "big", "notes": "x" * (512 * 1024)}
    run(call(_capture(sent), lambda api: api.update_spec("s1", big)))
    run(call(_capture(sent), lambda api: api.update_spec("s1", {"name": "small"})))
    assert sent[0].headers["content-encoding"] == "gzip"
    assert json.loads(gzip.decompress(sent[0].content)) == big
    assert "content-encoding" not in sent[1].headers
    assert json.loads(sent[1].content) == {"name": "small"}


def test_each_request_is_logged_without_secrets(caplog: pytest.LogCaptureFixture) -> None:
    sent: list[httpx.Request] = []
    with caplog.at_level(logging.DEBUG, logger="reconciler.api"):
        run(call(_capture(sent), lambda api: api.get_spec("s1")))
    lines = [r.getMessage() for r in caplog.records if r.name == "reconciler.api"]
    assert len(lines) == 1
    assert "GET /cell_specifications/s1 -> 200" in lines[0]
    assert "attempt 1 of 6" in lines[0]
    assert KEY not in caplog.text


# -- error mapping -----------------------------------------------------------------------------


def _fail_with(response: httpx.Response) -> ApiError:
    """The error a POST (never retried) gets for ``response``."""
    with pytest.raises(ApiError) as caught:
        run(call(lambda _: response, lambda api: api.create_spec({"name": "LG M50"})))
    return caught.value


def _standard(code: str, message: str, detail: Any = None) -> dict[str, Any]:
    return {"error_code": code, "message": message, "detail": detail}


def test_401_explains_which_credential_and_where_to_fix_it() -> None:
    error = _fail_with(
        json_response(
            401, _standard("UNAUTHORIZED", "Invalid API key"), **{"x-correlation-id": "corr-42"}
        )
    )
    assert isinstance(error, AuthenticationError)
    text = str(error)
    assert "creating cell specification 'LG M50' (POST /cell_specifications)" in text
    assert "rejected the credentials (401; sent: API key)" in text
    assert "IONWORKS_API_KEY / --api-key" in text
    assert "Invalid API key" in text
    assert text.endswith("(correlation id corr-42)")
    assert (error.status, error.error_code, error.correlation_id) == (
        401,
        "UNAUTHORIZED",
        "corr-42",
    )
    assert KEY not in text


def test_403_and_404_keep_the_api_message() -> None:
    denied = _fail_with(json_response(403, _standard("FORBIDDEN", "Project Viewer")))
    assert isinstance(denied, PermissionDeniedError)
    assert "permission denied (403)" in str(denied) and "Project Viewer" in str(denied)
    missing = _fail_with(json_response(404, {"detail": "Cell specification not found"}))
    assert isinstance(missing, NotFoundError)
    assert "not found (404)" in str(missing)
    assert "Cell specification not found" in str(missing)


@pytest.mark.parametrize(
    ("body", "existing"),
    [
        (_standard("CONFLICT", "Cell specification 'LG M50' exists", {"existing_id": "e1"}), "e1"),
        ({"detail": {"existing_cell_specification_id": "e2", "message": "dup"}}, "e2"),
        ({"detail": "already exists"}, None),
    ],
)
def test_409_carries_the_existing_id_when_the_api_gives_one(
    body: dict[str, Any], existing: str | None
) -> None:
    error = _fail_with(json_response(409, body))
    assert isinstance(error, ConflictError)
    assert error.existing_id == existing
    assert "conflict (409)" in str(error)


def test_422_lists_field_errors_by_dotted_location() -> None:
    detail = [
        {"loc": ["body", "ratings", "capacity", "value"], "msg": "Input should be a valid number"},
        {"loc": ["body", "name"], "msg": "Field required", "type": "missing"},
    ]
    error = _fail_with(json_response(422, {"detail": detail}))
    assert isinstance(error, RequestRejectedError)
    assert error.field_errors == [
        ("ratings.capacity.value", "Input should be a valid number"),
        ("name", "Field required"),
    ]
    assert "ratings.capacity.value: Input should be a valid number; name: Field required" in str(
        error
    )


def test_400_standardized_body_uses_its_message_and_field_list() -> None:
    body = _standard(
        "BAD_REQUEST",
        "Numeric values must use the Quantity format",
        {"errors": [{"loc": ["properties", "thickness"], "msg": "bare number"}]},
    )
    error = _fail_with(json_response(400, body))
    assert isinstance(error, RequestRejectedError)
    assert error.error_code == "BAD_REQUEST"
    assert error.field_errors == [("properties.thickness", "bare number")]
    assert "Numeric values must use the Quantity format: properties.thickness: bare number" in str(
        error
    )


def test_5xx_html_page_from_a_proxy_is_a_short_tag_free_excerpt() -> None:
    page = "<html><head><title>502 Bad Gateway</title></head><body>" + "nginx " * 200 + "</body>"
    error = _fail_with(httpx.Response(502, text=page, headers={"content-type": "text/html"}))
    assert isinstance(error, ServerError)
    assert "the Ionworks API failed (HTTP 502)" in str(error)
    assert "502 Bad Gateway nginx" in str(error)
    assert "<" not in str(error)
    assert len(str(error)) < 400


def _succeed_with(response: httpx.Response) -> ApiError:
    with pytest.raises(ApiError) as caught:
        run(call(lambda _: response, lambda api: api.get_spec("s1")))
    return caught.value


def test_success_that_is_not_json_is_unexpected() -> None:
    page = "<html><body><h1>Sign in to the corporate proxy</h1>" + "x" * 1000 + "</body></html>"
    error = _succeed_with(httpx.Response(200, text=page, headers={"content-type": "text/html"}))
    assert isinstance(error, UnexpectedResponseError)
    assert "expected JSON" in str(error) and "text/html" in str(error)
    assert "Sign in to the corporate proxy" in str(error)
    assert len(str(error)) < 400


def test_truncated_json_is_unexpected() -> None:
    error = _succeed_with(
        httpx.Response(
            200, content=b'{"id": "s1", "na', headers={"content-type": "application/json"}
        )
    )
    assert isinstance(error, UnexpectedResponseError)
    assert "invalid or truncated JSON" in str(error)


def test_json_under_a_text_content_type_is_unexpected() -> None:
    error = _succeed_with(
        httpx.Response(
            200, content=json.dumps(SPEC).encode(), headers={"content-type": "text/plain"}
        )
    )
    assert isinstance(error, UnexpectedResponseError)


def test_wrong_shape_is_unexpected() -> None:
    error = _succeed_with(json_response(200, [SPEC]))
    assert isinstance(error, UnexpectedResponseError)
    assert "not with a record with an id" in str(error)


def test_redirect_points_at_the_url_setting() -> None:
    error = _succeed_with(httpx.Response(302, headers={"location": "https://login.example/"}))
    assert isinstance(error, UnexpectedResponseError)
    assert "IONWORKS_API_URL" in str(error)


def test_charset_in_the_content_type_is_fine() -> None:
    response = httpx.Response(
        200,
        content=json.dumps(SPEC).encode(),
        headers={"content-type": "application/json; charset=utf-8"},
    )
    got, _ = run(call(lambda _: response, lambda api: api.get_spec("s1")))
    assert got == SPEC


@pytest.mark.parametrize(
    "echo",
    [
        {"detail": f"bad header X-API-Key: {KEY}"},
        {"detail": [{"loc": ["header", KEY], "msg": f"bad X-API-Key: {KEY}"}]},
        {"error_code": "BAD_REQUEST", "message": f"X-API-Key: {KEY}", "detail": None},
    ],
)
def test_a_body_echoing_our_key_is_masked(echo: dict[str, Any]) -> None:
    error = _fail_with(json_response(400, echo))
    assert isinstance(error, RequestRejectedError)
    assert KEY not in str(error) and "X-API-Key: ***" in str(error)
    assert KEY not in repr(error.field_errors)


def test_network_errors_never_carry_headers() -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("[Errno 111] Connection refused", request=request)

    api, _ = client(refuse, max_retries=0)
    with pytest.raises(TransportError) as caught:
        run(api.get_spec("s1"))
    text = str(caught.value)
    assert (
        f"could not connect to the Ionworks API at {BASE} ([Errno 111] Connection refused)" in text
    )
    assert "never reached the server" in text
    assert KEY not in text and KEY not in str(caught.value.__cause__)
    assert caught.value.may_have_arrived is False
