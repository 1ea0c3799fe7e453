"""Ratings are checked wherever they come in: the review page's API refuses a score of 99 or
``passed: "no"`` (which it used to store as a pass) with a 400, storing nothing."""

from __future__ import annotations

import pytest

from ftp.errors import UserError
from ftp.plugins.review import data as review_data
from tests.test_review import request, server  # noqa: F401 - the server fixture


@pytest.mark.parametrize("body,message", [
    ({"score": 99}, "score must be a number between 1 and 5"),
    ({"passed": "no"}, "passed must be true or false"),
    ({"score": "high"}, "score must be a number"),
    ({"passed": True, "tags": "urgent"}, "tags must be a list"),
])
def test_the_api_refuses_bad_ratings(server, body, message):  # noqa: F811
    app, url, project = server
    sample = project.store.samples(1)[0]["id"]
    status, reply = request(url.split("?")[0] + "api/rate", {"sample_id": sample, **body},
                            app.token)
    assert status == 400 and message in reply.decode()
    assert project.store.db["ratings"].count == 0


def test_save_rating_accepts_booleans_and_refuses_strings(project):
    with project.run("eval") as run:
        (sample,) = project.store.add_samples(run.id, [{"task": "t", "doc_id": "1",
                                                        "output": "x"}])
    review_data.save_rating(project.store, sample, "alice", passed=False, score=2)
    with pytest.raises(UserError, match="passed must be true or false, got 'no'"):
        review_data.save_rating(project.store, sample, "alice", passed="no")
    assert [r["passed"] for r in project.store.db["ratings"].rows] == [0]
