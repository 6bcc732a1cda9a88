"""The dashboard's files, the round event stream (`POST /v1/rounds`) and the experiments
routes, against a stand-in leader (their browser tests on the real stack are in
tests/e2e/test_dashboard.py)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from pydantic import ValidationError

from conclave.experiments import journal, report
from conclave.gateway import experiments, ui
from conclave.gateway.app import create_app
from conclave.gateway.settings import GatewaySettings
from tests.gateway.fake_leader import FailingLeader, FakeAgents, FakeLeader

ASK = {"model": "conclave-vote", "messages": [{"role": "user", "content": "hi"}]}
KEY = "dash-key"


def client_for(tmp_path: Path | None = None, *, leader=None, **settings) -> TestClient:
    app = create_app(
        GatewaySettings(leader="fake:1", experiments_dir=tmp_path, **settings),
        leader=leader or FakeLeader(),
        agents=FakeAgents(),
    )
    return TestClient(app)


def events(text: str) -> list[tuple[str, dict]]:
    found = []
    for frame in text.split("\n\n"):
        name = re.search(r"^event: (.+)$", frame, re.M)
        data = re.search(r"^data: (.+)$", frame, re.M)
        if name and data:
            found.append((name.group(1), json.loads(data.group(1))))
    return found


def test_a_round_streams_its_events_in_order_and_names_itself():
    with client_for() as client:
        response = client.post("/v1/rounds", json=ASK)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/event-stream")
    assert response.headers["x-conclave-round-id"] == "r1"
    seen = events(response.text)
    assert [name for name, _ in seen] == ["round.started", "candidate.delta", "round.decided"]
    assert seen[0][1] == {
        "round_id": "r1",
        "strategy": "vote",
        "method": "majority",
        "participants": ["alpha"],
    }
    assert seen[1][1] == {"participant": "alpha", "sample_index": 0, "turn": 0, "text": "answer 0"}
    decided = seen[2][1]
    assert decided["id"] == "r1" and decided["messages"] == [{"role": "user", "content": "hi"}]
    with client_for() as client:
        # The round in the very JSON shape GET /v1/rounds/{id} answers with.
        assert set(decided) == set(client.get("/v1/rounds/r1").json())


@pytest.mark.parametrize(
    ("change", "status", "param"),
    [
        ({"stream": True}, 400, "stream"),
        ({"stream": False}, 400, "stream"),
        ({"stream_options": {"include_usage": True}}, 400, "stream_options"),
        ({"model": "gpt-4o"}, 404, None),
        ({"max_tokens": 0}, 400, "max_tokens"),
        ({"logprobs": True}, 400, "logprobs"),
    ],
)
def test_a_bad_round_request_is_a_plain_error_before_any_stream(change, status, param):
    with client_for() as client:
        response = client.post("/v1/rounds", json={**ASK, **change})
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    if param:
        assert response.json()["error"]["param"] == param


def test_a_round_that_fails_after_it_opened_says_so_in_band():
    with client_for(leader=FailingLeader()) as client:
        response = client.post("/v1/rounds", json=ASK)
    assert response.status_code == 200
    seen = events(response.text)
    assert [name for name, _ in seen][-1] == "error"
    assert seen[-1][1]["error"]["code"] == "unavailable"
    assert "quorum" in seen[-1][1]["error"]["message"]


def test_the_pages_are_served_with_their_types_and_nothing_else():
    with client_for() as client:
        assert client.get("/", follow_redirects=False).headers["location"] == "/ui/"
        page = client.get("/ui/")
        assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
        script = client.get("/ui/app.js")
        assert script.headers["content-type"].startswith("text/javascript")
        assert client.get("/ui/style.css").headers["content-type"].startswith("text/css")
        assert client.get("/ui/nothing.js").status_code == 404
        assert client.get("/ui/..%2Fsettings.py").status_code == 404
        assert client.get("/ui/__init__.py").status_code == 404


def test_every_module_a_page_imports_is_served():
    served = ui.files()
    for name, path in served.items():
        text = path.read_text(encoding="utf-8")
        for imported in re.findall(r'from "\./([^"]+)"', text):
            assert imported in served, f"{name} imports {imported}, which is not served"
        for linked in re.findall(r'(?:src|href)="/ui/([^"]+)"', text):
            assert linked in served, f"{name} links {linked}, which is not served"
        # Offline: nothing is fetched from anywhere but the gateway.
        assert not re.search(r"https?://", text), f"{name} names an outside URL"


def test_without_the_dashboard_there_are_no_pages_and_the_api_is_the_same():
    with client_for(ui=False) as client:
        assert client.get("/ui/").status_code == 404
        assert client.get("/").status_code == 404
        assert client.post("/v1/rounds", json=ASK).status_code == 200


def test_with_a_key_the_pages_load_but_no_data_does():
    with client_for(api_key=KEY) as client:
        assert client.get("/ui/").status_code == 200  # the page, which then asks for the key
        for method, path in (
            ("POST", "/v1/rounds"),
            ("GET", "/v1/agents"),
            ("GET", "/v1/experiments"),
            ("GET", "/v1/rounds"),
        ):
            assert client.request(method, path, json=ASK).status_code == 401, path
        keyed = client.get("/v1/agents", headers={"Authorization": f"Bearer {KEY}"})
        assert keyed.status_code == 200


def make_run(root: Path, name: str, *, plot: bool = True) -> Path:
    run = root / name
    run.mkdir()
    (run / journal.STATE).write_text(
        json.dumps({"run_id": f"{name}-id", "experiment": "sums", "cells": {"vote": {}}})
    )
    (run / report.SUMMARY_JSON).write_text(json.dumps({"cells": [{"cell": "vote", "rounds": 2}]}))
    if plot:
        (run / report.PLOT_PNG).write_bytes(b"\x89PNG\r\n\x1a\n")
    (run / "rounds.db").write_bytes(b"not served")
    return run


def test_experiments_list_runs_and_serve_only_their_reports(tmp_path):
    make_run(tmp_path, "a-run")
    make_run(tmp_path, "b-run", plot=False)
    (tmp_path / "not-a-run").mkdir()
    with client_for(tmp_path) as client:
        runs = client.get("/v1/experiments").json()["data"]
        assert [r["name"] for r in runs] == ["a-run", "b-run"]
        assert runs[0]["files"] == ["summary.json", "accuracy_vs_tokens.png"]
        one = client.get("/v1/experiments/a-run").json()
        assert one["run_id"] == "a-run-id" and one["cells"] == [{"cell": "vote", "rounds": 2}]
        plot = client.get("/v1/experiments/a-run/files/accuracy_vs_tokens.png")
        assert plot.status_code == 200 and plot.headers["content-type"] == "image/png"
        assert client.get("/v1/experiments/b-run/files/accuracy_vs_tokens.png").status_code == 404
        assert client.get("/v1/experiments/a-run/files/rounds.db").status_code == 404
        assert client.get("/v1/experiments/not-a-run").status_code == 404
        assert client.get("/v1/experiments/..").status_code in (400, 404)
        assert client.get("/v1/experiments/.hidden").status_code == 400


def test_without_an_experiments_folder_the_routes_say_which_setting():
    with client_for() as client:
        response = client.get("/v1/experiments")
    assert response.status_code == 404
    assert "--experiments-dir" in response.json()["error"]["message"]


def test_an_experiments_folder_that_is_not_one_refuses_to_start(tmp_path):
    with pytest.raises(ValidationError, match="experiments_dir"):
        GatewaySettings(experiments_dir=tmp_path / "missing")


def test_the_gateway_serves_exactly_the_run_folder_s_report_files():
    # The gateway sits below the experiments layer and cannot import these names.
    assert set(experiments.SERVED) == set(report.REPORT_FILES)
    assert experiments.STATE == journal.STATE
    assert experiments.SUMMARY == report.SUMMARY_JSON
