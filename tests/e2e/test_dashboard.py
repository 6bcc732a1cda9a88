"""The dashboard in a real browser (headless Debian chromium, driven by Playwright)
against the real stack: the session's agent (bundled model) as three voices, a leader,
the gateway serving the pages. What the page shows is checked against the API's own
answers (`/v1/rounds/{id}`, `/v1/agents`, the experiment's files)."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
import yaml
from playwright.sync_api import expect, sync_playwright

from conclave.experiments.config import load_experiment
from conclave.experiments.runner import ExperimentRunner
from tests.support.browser import chromium_path, screenshot_dir
from tests.support.servers import RunningGateway, gateway_settings

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(600)]

REPO = Path(__file__).resolve().parents[2]
KEY = "dashboard-test-key"
WAIT_MS = 120_000  # a bound for a busy shared box, not a performance claim
QUESTION = "What is the capital of France? Answer with one word."


@pytest.fixture(scope="module")
def experiments_dir(tmp_path_factory) -> Path:
    """The folder the gateway shows; the experiments test runs an experiment into it
    (the gateway reads it live, as it would a researcher's runs folder)."""
    return tmp_path_factory.mktemp("experiment-runs")


def run_small_experiment(leader_address: str, root: Path, config: Path) -> None:
    """One real, small experiment run (two sums, a vote) against this module's leader."""
    config.write_text(
        yaml.safe_dump(
            {
                "name": "sums",
                "leader": leader_address,
                "dataset": {
                    "path": str(REPO / "experiments" / "datasets" / "arithmetic.jsonl"),
                    "scorer": "numeric",
                    "template": "{prompt} Answer with a number.",
                    "limit": 2,
                },
                "strategies": [{"id": "vote", "strategy": "vote", "params": {"extract": "number"}}],
                "max_tokens": 8,
                "temperature": 0.7,
                "seed": 3,
            }
        )
    )
    report = ExperimentRunner(load_experiment(config), root / "sums-run").run()
    assert report.complete, report.errors


@pytest.fixture(scope="module")
def gateway(leader, experiments_dir):
    settings = gateway_settings(leader.address, experiments_dir=experiments_dir)
    with RunningGateway(settings) as running:
        yield running


@pytest.fixture(scope="module")
def browser():
    executable = chromium_path()
    with sync_playwright() as p:
        launched = p.chromium.launch(executable_path=executable, headless=True)
        yield launched
        launched.close()


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    opened = context.new_page()
    opened.set_default_timeout(WAIT_MS)
    expect.set_options(timeout=WAIT_MS)
    yield opened
    context.close()


@pytest.fixture
def shots(tmp_path) -> Path:
    return screenshot_dir(tmp_path)


def ask(page, url: str, model: str, question: str, *, max_tokens: int, params: str = "") -> None:
    page.goto(f"{url}/ui/#/ask")
    page.select_option("#ask-model", model)
    page.fill("#ask-question", question)
    page.fill("#ask-max-tokens", str(max_tokens))
    page.fill("#ask-temperature", "0")
    if params:
        page.fill("#ask-params", params)
    page.click("#ask-go")


def test_ask_streams_every_voice_and_the_round_page_shows_the_stored_tally(
    page, gateway, leader, shots
):
    ask(page, gateway.url, "conclave-vote", QUESTION, max_tokens=24)
    expect(page.locator("#ask-decision")).to_be_visible()
    round_id = page.locator("#ask-live h2 a").inner_text()
    stored = httpx.get(f"{gateway.url}/v1/rounds/{round_id}").raise_for_status().json()

    # Each voice has its own lane; an answered voice's holds exactly the text the round
    # recorded for it (a voice stopped early, once the vote could not change, keeps what it
    # had streamed: the record drops that unfinished text).
    assert {c["participant"] for c in stored["candidates"]} == set(stored_voices(stored))
    answered = [c for c in stored["candidates"] if c["finish_reason"] in ("stop", "length")]
    assert len(answered) >= 2
    for c in answered:
        lane = page.locator(
            f'.lane[data-participant="{c["participant"]}"] .turn[data-turn="0"] .turn-text'
        )
        assert lane.inner_text().strip() == c["text"].strip()
    assert page.locator(".lane").count() == 3
    page.screenshot(path=str(shots / "dashboard-ask.png"), full_page=True)

    page.click("#ask-round-link")
    expect(page.locator("#round-tally")).to_be_visible()
    bars = page.locator("#round-tally .bar-row")
    shown = sorted(
        (b.get_attribute("data-answer"), float(b.get_attribute("data-weight"))) for b in bars.all()
    )
    tally = sorted((g["answer"], g["weight"]) for g in stored["decision"]["groups"])
    assert shown == tally and shown
    assert page.locator("#round-candidates tbody tr").count() == len(stored["candidates"])
    for i, c in enumerate(stored["candidates"]):
        tokens = page.locator(f'#round-candidates tbody tr[data-index="{i}"] td.tokens')
        cached = c["cached_prompt_tokens"]
        expected = f"{c['prompt_tokens']} + {c['completion_tokens']}"
        assert tokens.inner_text().split() == [
            *expected.split(),
            *([str(cached), "cached"] if cached else []),
        ]
    question = page.locator("#round-question").inner_text()
    assert question == stored["messages"][-1]["content"]
    expect(page.locator("#round-summary")).to_contain_text(stored["decision"]["answer"] or "(none)")
    page.screenshot(path=str(shots / "dashboard-round.png"), full_page=True)


def stored_voices(stored: dict) -> list[str]:
    return [p["name"] for p in stored["participants"]]


def test_critique_turns_stream_under_each_voice_and_form_the_timeline(page, gateway):
    ask(
        page,
        gateway.url,
        "conclave-parallel",
        "Name a colour.",
        max_tokens=12,
        params="critique_rounds=1\nstop_on_agreement=false",
    )
    expect(page.locator("#ask-decision")).to_be_visible()
    assert page.locator('.lane .turn[data-turn="1"]').count() == 3
    page.click("#ask-round-link")
    timeline = page.locator("#round-timeline")
    expect(timeline).to_be_visible()
    changes = timeline.locator('li[data-turn="1"] li[data-change]')
    assert changes.count() == 3
    assert {c.get_attribute("data-change") for c in changes.all()} <= {"kept", "revised"}


def test_cancel_really_cancels_the_round(page, gateway):
    # Greedy, a base model keeps counting: the round is reliably still running when the
    # button is clicked (a story may end after a few sentences, and the round with it).
    ask(
        page,
        gateway.url,
        "conclave-vote",
        "Count from 1 to 1000, separated by commas.",
        max_tokens=600,
    )
    # Cancel once a voice is producing text.
    expect(page.locator(".lane .turn-text").first).not_to_be_empty()
    round_id = page.locator("#ask-live h2 a").inner_text()
    page.click("#ask-cancel")
    expect(page.locator("#ask-cancelled")).to_be_visible()
    # The leader stores the round it was stopped in as failed, every voice cut short.
    with httpx.Client(base_url=gateway.url) as http:
        stored = None
        for _ in range(200):
            response = http.get(f"/v1/rounds/{round_id}")
            if response.status_code == 200 and response.json()["status"] != "running":
                stored = response.json()
                break
            page.wait_for_timeout(100)
        assert stored is not None and stored["status"] == "failed", stored
        assert all(c["completion_tokens"] < 600 for c in stored["candidates"])
        # ...and the agent's slots are free again.
        for _ in range(200):
            agents = http.get("/v1/agents").json()["data"]
            if all(a["info"]["slots_busy"] == 0 for a in agents):
                break
            page.wait_for_timeout(100)
        assert all(a["info"]["slots_busy"] == 0 for a in agents)


def test_rounds_list_shows_new_rounds_live_filters_and_opens_by_keyboard(page, gateway, shots):
    page.goto(f"{gateway.url}/ui/#/rounds")
    expect(page.locator("#rounds-note")).not_to_be_empty()
    answer = httpx.post(
        f"{gateway.url}/v1/chat/completions",
        json={
            "model": "conclave-vote",
            "max_tokens": 8,
            "temperature": 0,
            "messages": [{"role": "user", "content": "Say yes."}],
            "conclave": {"tags": {"suite": "dashboard-live"}},
        },
        timeout=300,
    ).raise_for_status()
    round_id = answer.headers["x-conclave-round-id"]
    row = page.locator(f'#rounds-table tr[data-round-id="{round_id}"]')
    expect(row).to_be_visible()  # appeared without a reload
    page.screenshot(path=str(shots / "dashboard-rounds.png"), full_page=True)

    page.fill("#f-tag", "suite=dashboard-live")
    page.press("#f-tag", "Enter")
    expect(page.locator("#rounds-table tbody tr")).to_have_count(1)
    page.select_option("#f-status", "failed")
    expect(page.locator("#rounds-table tbody tr")).to_have_count(0)
    page.select_option("#f-status", "decided")
    expect(page.locator("#rounds-table tbody tr")).to_have_count(1)
    page.select_option("#f-strategy", "parallel")
    expect(page.locator("#rounds-table tbody tr")).to_have_count(0)
    page.select_option("#f-strategy", "vote")
    expect(row).to_be_visible()
    # Keyboard: focus the row, Enter opens the round.
    row.focus()
    page.keyboard.press("Enter")
    expect(page.locator("#round-summary")).to_be_visible()
    assert page.url.endswith(f"#/rounds/{round_id}")


def test_blades_show_every_agent_with_its_slots(page, gateway, agent, shots):
    page.goto(f"{gateway.url}/ui/#/blades")
    listed = httpx.get(f"{gateway.url}/v1/agents").raise_for_status().json()["data"]
    assert listed
    for entry in listed:
        card = page.locator(f'.blade[data-agent="{entry["name"]}"]')
        expect(card).to_be_visible()
        slots = card.locator(".slots")
        assert slots.get_attribute("data-total") == str(entry["info"]["slots_total"])
        expect(card).to_contain_text(entry["info"]["model"]["id"])
        expect(card).to_contain_text(entry["address"])
    page.screenshot(path=str(shots / "dashboard-blades.png"), full_page=True)


def test_experiments_show_the_runs_table_and_plot(
    page, gateway, leader, experiments_dir, tmp_path, shots
):
    run_small_experiment(leader.address, experiments_dir, tmp_path / "sums.yaml")
    page.goto(f"{gateway.url}/ui/#/experiments")
    expect(page.locator('#experiments-table tr[data-run="sums-run"]')).to_be_visible()
    expect(page.locator('#experiment-summary tr[data-cell="vote"]')).to_be_visible()
    plot = page.locator("#experiment-plot")
    expect(plot).to_be_visible()
    assert plot.evaluate("img => img.complete && img.naturalWidth > 0")
    summary = httpx.get(f"{gateway.url}/v1/experiments/sums-run").json()["cells"][0]
    expect(page.locator('#experiment-summary tr[data-cell="vote"]')).to_contain_text(
        str(summary["rounds"])
    )
    page.screenshot(path=str(shots / "dashboard-experiments.png"), full_page=True)


def test_pages_fit_a_phone_and_the_menu_works_by_keyboard(browser, gateway, shots):
    """Runs after the experiments test: every page has something on it."""
    context = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True)
    page = context.new_page()
    page.set_default_timeout(WAIT_MS)
    try:
        for route, ready in (
            ("#/ask", "#ask-form"),
            ("#/rounds", "#rounds-note:not(:empty)"),
            ("#/experiments", "#experiment-summary"),
            ("#/blades", ".blade"),
        ):
            page.goto(f"{gateway.url}/ui/{route}")
            page.wait_for_selector(ready)
            wide = page.evaluate("document.documentElement.scrollWidth")
            assert wide <= 390, f"{route} is {wide} px wide on a 390 px phone"
        page.screenshot(path=str(shots / "dashboard-phone-blades.png"), full_page=True)  # last
        # From the top of the page: Tab reaches the menu, Enter follows a link.
        page.goto(f"{gateway.url}/ui/#/ask")
        page.wait_for_selector("#ask-form")
        page.locator('nav a[data-page="blades"]').focus()
        page.keyboard.press("Enter")
        page.wait_for_selector(".blade")
        assert page.url.endswith("#/blades")
    finally:
        context.close()


@pytest.fixture(scope="module")
def keyed_gateway(leader, experiments_dir):
    settings = gateway_settings(leader.address, api_key=KEY, experiments_dir=experiments_dir)
    with RunningGateway(settings) as running:
        yield running


def test_with_an_api_key_the_page_shows_nothing_until_given_it(page, keyed_gateway, shots):
    refused = []
    page.on(
        "response",
        lambda r: refused.append(r.url) if "/v1/" in r.url and r.status == 401 else None,
    )
    page.goto(f"{keyed_gateway.url}/ui/#/blades")
    expect(page.locator("#key-gate")).to_be_visible()
    assert refused  # the page asked, and the gateway said no
    assert page.locator("#page").inner_text() == ""
    assert page.locator(".blade").count() == 0
    page.screenshot(path=str(shots / "dashboard-key.png"))

    page.fill("#key-input", "wrong-key")
    page.press("#key-input", "Enter")
    expect(page.locator("#key-gate")).to_be_visible()
    assert page.locator(".blade").count() == 0

    page.fill("#key-input", KEY)
    page.press("#key-input", "Enter")
    expect(page.locator(".blade").first).to_be_visible()
    expect(page.locator("#key-gate")).to_be_hidden()
    # The key is sent as Bearer on the live round stream too.
    ask(page, keyed_gateway.url, "conclave-vote", "Say hi.", max_tokens=8)
    expect(page.locator("#ask-decision")).to_be_visible()
