"""The review server beyond its token: the Host header must name loopback (or the bound
host) and its port (DNS rebinding), a request with an Origin must come from the server's own
origin, writes must be JSON, and ratings and preferences sent to the web API are validated."""

from __future__ import annotations

import http.client
import json
from urllib.parse import urlparse

import pytest

from tests.test_review import server  # noqa: F401 - the fixture

pytestmark = pytest.mark.usefixtures("server")


def send(url: str, method: str, path: str, body: object = None, **headers: str):
    """One request with exactly these headers (Host included), status and body back."""
    parts = urlparse(url)
    connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=10)
    data = None if body is None else body if isinstance(body, bytes) else json.dumps(body)
    connection.putrequest(method, path, skip_host=True, skip_accept_encoding=True)
    for key, value in {"Host": parts.netloc, **headers}.items():
        if value is not None:
            connection.putheader(key, value)
    if data is not None:
        connection.putheader("Content-Length", str(len(data)))
    connection.endheaders(data.encode() if isinstance(data, str) else data)
    response = connection.getresponse()
    result = response.status, response.read()
    connection.close()
    return result


@pytest.mark.parametrize("host", ["evil.example", "evil.example:{port}", "127.0.0.1:1",
                                  "", None])
def test_a_foreign_host_header_is_refused(server, host):  # noqa: F811
    app, url, _ = server
    port = urlparse(url).port
    headers = {"Host": host.format(port=port) if host else host, "X-FTP-Token": app.token}
    assert send(url, "GET", "/api/items", **headers)[0] == 421


@pytest.mark.parametrize("host", ["127.0.0.1:{port}", "localhost:{port}", "LOCALHOST:{port}"])
def test_loopback_host_names_are_accepted(server, host):  # noqa: F811
    app, url, _ = server
    port = urlparse(url).port
    assert send(url, "GET", "/api/items", Host=host.format(port=port),
                **{"X-FTP-Token": app.token})[0] == 200


def test_a_foreign_origin_is_refused_even_with_the_token(server):  # noqa: F811
    app, url, project = server
    items = json.loads(send(url, "GET", "/api/items", **{"X-FTP-Token": app.token})[1])
    rating = {"sample_id": items["samples"][0]["id"], "passed": True}
    token = {"X-FTP-Token": app.token, "Content-Type": "application/json"}
    assert send(url, "POST", "/api/rate", rating, Origin="http://evil.example", **token)[0] == 403
    assert send(url, "POST", "/api/rate", rating, **token,
                **{"Sec-Fetch-Site": "cross-site"})[0] == 403
    assert project.store.db["ratings"].count == 0
    own = f"http://{urlparse(url).netloc}"
    assert send(url, "POST", "/api/rate", rating, Origin=own, **token)[0] == 200


def test_writes_must_be_json(server):  # noqa: F811
    app, url, project = server
    form = b"sample_id=1&passed=true"
    for kind in ("application/x-www-form-urlencoded", "text/plain", None):
        status, _ = send(url, "POST", "/api/rate", form, **{"X-FTP-Token": app.token,
                                                           "Content-Type": kind})
        assert status == 415
    assert project.store.db["ratings"].count == 0


@pytest.mark.parametrize("path,body", [
    ("/api/rate", {"score": 99}), ("/api/rate", {"passed": "no"}), ("/api/rate", {"score": "5"}),
    ("/api/rate", {"tags": "good"}), ("/api/prefer", {"choice": "both"}), ("/api/rate", [1, 2]),
])
def test_the_web_api_validates_ratings(server, path, body):  # noqa: F811
    app, url, project = server
    items = json.loads(send(url, "GET", "/api/items", **{"X-FTP-Token": app.token})[1])
    if isinstance(body, dict):
        body = {"sample_id": items["samples"][0]["id"], "index": 0, **body}
    status, answer = send(url, "POST", path, body, **{"X-FTP-Token": app.token,
                                                      "Content-Type": "application/json"})
    assert status == 400 and "error" in json.loads(answer)
    assert project.store.db["ratings"].count == 0
    assert project.store.db["preferences"].count == 0
