"""The review page: data layer, token-protected server, export/import, CLI errors."""

from __future__ import annotations

import json
import socket
import threading
import urllib.error
import urllib.request

import pytest

from ftp.plugins.review import data as review_data
from ftp.plugins.review.io import export_reviews, import_reviews
from ftp.plugins.review.server import ReviewApp, make_server, url_for

PROMPTS = [f"Turn this email into a ticket: customer {i} was charged twice." for i in range(6)]


def fill(project) -> tuple[int, int]:
    """Two eval runs with outputs for the same six documents."""
    ids = []
    for name, word in (("base", "unknown"), ("tuned", "billing")):
        with project.run("eval", name=name) as run:
            project.store.add_samples(run.id, [
                {"task": "testset", "doc_id": str(i), "prompt": prompt,
                 "output": f'{{"category": "{word}", "n": {i}}}',
                 "reference": '{"category": "billing"}'}
                for i, prompt in enumerate(PROMPTS)])
        ids.append(run.id)
    return ids[0], ids[1]


@pytest.fixture
def server(project):
    base, tuned = fill(project)
    review = review_data.load_review_set(project.store, [str(base), str(tuned)], seed=1)
    app = ReviewApp(project.store.path, review, "alice")
    httpd = make_server(app)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield app, url_for(httpd, app), project
    httpd.shutdown()
    httpd.server_close()


def request(url: str, body: dict | None = None, token: str | None = None):
    data = None if body is None else json.dumps(body).encode()
    headers = {"Content-Type": "application/json"}
    if token is not None:
        headers["X-FTP-Token"] = token
    try:
        with urllib.request.urlopen(urllib.request.Request(url, data, headers), timeout=10) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


def test_blind_pairs_match_documents_and_shuffle_sides(project):
    base, tuned = fill(project)
    review = review_data.load_review_set(project.store, [str(base), str(tuned)], seed=3)
    assert len(review.samples) == 12 and len(review.pairs) == 6
    for pair in review.pairs:
        assert {pair.left["run_id"], pair.right["run_id"]} == {base, tuned}
        assert pair.left["doc_id"] == pair.right["doc_id"]
    sides = {pair.left["run_id"] for pair in review.pairs}
    assert sides == {base, tuned}, "seed 3 puts each run on the left at least once"


def test_rating_replaces_the_reviewers_earlier_one(project):
    base, _ = fill(project)
    sample = project.store.samples(base)[0]["id"]
    review_data.save_rating(project.store, sample, "alice", passed=False)
    review_data.save_rating(project.store, sample, "alice", score=4, tags=["format", "format"])
    review_data.save_rating(project.store, sample, "bob", passed=True)
    rows = list(project.store.db["ratings"].rows_where(order_by="reviewer"))
    assert [(r["reviewer"], r["score"], r["passed"]) for r in rows] == [
        ("alice", 4.0, None), ("bob", None, 1)]
    assert json.loads(rows[0]["tags"]) == ["format"] and rows[0]["run_id"] == base
    with pytest.raises(Exception, match="between 1 and 5"):
        review_data.save_rating(project.store, sample, "alice", score=9)


def test_server_refuses_requests_without_the_token(server):
    app, url, _ = server
    base = url.split("?")[0]
    assert request(base)[0] == 403
    assert request(base + "?token=wrong")[0] == 403
    assert request(base + "api/items", token="nope")[0] == 403
    assert request(base + "api/rate", {"sample_id": 1, "passed": True})[0] == 403
    status, page = request(url)
    assert status == 200 and b"ftp review" in page
    assert url.startswith("http://127.0.0.1:")


def test_server_rates_and_prefers_through_the_api(server):
    app, url, project = server
    base = url.split("?")[0]
    status, body = request(base + "api/items", token=app.token)
    items = json.loads(body)
    assert status == 200 and len(items["samples"]) == 12 and len(items["pairs"]) == 6
    assert "run_id" not in json.dumps(items["pairs"]), "pairs are blind"
    sample = items["samples"][0]["id"]
    assert request(base + "api/rate", {"sample_id": sample, "passed": True, "score": 5,
                                       "tags": ["good"], "note": "fine"}, app.token)[0] == 200
    assert request(base + "api/prefer", {"index": 0, "choice": "right"}, app.token)[0] == 200
    assert request(base + "api/rate", {"sample_id": 99999, "passed": True}, app.token)[0] == 400
    rating = next(project.store.db["ratings"].rows)
    assert (rating["sample_id"], rating["passed"], rating["score"]) == (sample, 1, 5.0)
    preference = next(project.store.db["preferences"].rows)
    assert preference["chosen"] == "b"
    assert preference["sample_b"] == app.review.pairs[0].right["id"]


def test_export_then_import_into_a_copy(project, tmp_path):
    base, tuned = fill(project)
    samples = project.store.samples(base)
    review_data.save_rating(project.store, samples[0]["id"], "alice", passed=True, note="ok")
    pair = review_data.load_review_set(project.store, [str(base), str(tuned)], seed=0).pairs[0]
    review_data.save_preference(project.store, pair, "a", "alice")
    path = tmp_path / "reviews.jsonl"
    assert export_reviews(project.store, path) == {"rating": 1, "preference": 1}
    project.store.db.execute("delete from ratings")
    project.store.db.execute("delete from preferences")
    assert import_reviews(project.store, path) == {"rating": 1, "preference": 1, "skipped": 0}
    assert import_reviews(project.store, path)["skipped"] == 2
    assert next(project.store.db["ratings"].rows)["note"] == "ok"


def test_import_names_the_bad_line(project, tmp_path, invoke):
    fill(project)
    path = tmp_path / "bad.jsonl"
    path.write_text('{"type": "rating", "sample_id": 424242, "output": "x"}\n')
    result = invoke("review", "--import", str(path))
    assert result.exit_code == 2 and "bad.jsonl:1" in result.output
    assert project.store.db["ratings"].count == 0


def test_review_without_samples_is_a_clear_error(project, invoke):
    with project.run("train", name="t"):
        pass
    result = invoke("review", "latest")
    assert result.exit_code == 2 and "has no samples to review" in result.output
    assert "Traceback" not in result.output


def test_review_on_a_port_in_use_is_a_clear_error(project, invoke):
    fill(project)
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        result = invoke("review", "--port", str(busy.getsockname()[1]))
    assert result.exit_code == 2 and "already in use" in result.output
