"""GET /v1/models shows each strategy's defaults: every knob a round that sets none gets
(the values come from the strategies' own DEFAULTS, which their params read)."""

from __future__ import annotations

import pytest

from conclave.experiments.knobs import STRATEGY_KNOBS
from conclave.gateway.catalog import STRATEGY_MODELS

# Knobs whose default is not a fixed value: moa's aggregator is the round's first voice.
NO_FIXED_DEFAULT = {"aggregator"}


@pytest.mark.parametrize("card", STRATEGY_MODELS, ids=lambda card: card.id)
def test_a_card_lists_every_knob_of_its_strategy(card):
    knobs = set(STRATEGY_KNOBS[card.strategy]) - NO_FIXED_DEFAULT
    assert knobs <= set(card.defaults), f"{card.id} omits {sorted(knobs - set(card.defaults))}"
