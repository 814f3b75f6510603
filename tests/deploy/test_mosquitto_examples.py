"""``deploy/mosquitto/``: the committed examples are exactly what the generator renders."""

from __future__ import annotations

import dataclasses

import pytest

from controller.broker.accounts import render_acl
from controller.broker.files import BrokerLayout, render_config
from controller.broker.sync import listener_settings

from .mosquitto_examples import FOLDER, examples, sample_accounts, sample_settings

EXAMPLES = examples()
REGENERATE = "regenerate with: .venv/bin/python -m tests.deploy.mosquitto_examples"


@pytest.mark.parametrize("name", sorted(EXAMPLES))
def test_committed_example_matches_the_generator(name: str) -> None:
    assert (FOLDER / name).read_text() == EXAMPLES[name], f"{name} is stale; {REGENERATE}"


def test_every_example_is_generated_and_documented() -> None:
    assert {p.name for p in FOLDER.glob("*.example")} == set(EXAMPLES)
    readme = (FOLDER / "README.md").read_text()
    for name in EXAMPLES:
        assert name in readme, name
    assert "python -m tests.deploy.mosquitto_examples" in readme


def test_the_examples_are_a_station_with_a_controller_and_two_agents() -> None:
    acl = (FOLDER / "acl.example").read_text().splitlines()
    assert [line for line in acl if line.startswith("user ")] == [
        "user ag-0001", "user ag-0002", "user ctl-xa-tan-lap"]
    conf = (FOLDER / "mosquitto.conf.example").read_text().splitlines()
    for line in ("allow_anonymous false", "persistence true", "max_queued_messages 20000",
                 "listener 8883 0.0.0.0", "acl_file /var/lib/loaxa/broker/acl"):
        assert line in conf, line


def test_a_change_in_the_registry_or_settings_would_show() -> None:
    """Positive control: the comparison above fails when the generator's output moves."""
    fewer = render_acl(sample_accounts(agents=("ag-0001",)))
    assert fewer != EXAMPLES["acl.example"]
    settings = sample_settings()
    listener = dataclasses.replace(listener_settings(settings), run_as="loaxa",
                                   max_queued_messages=1000)
    assert render_config(BrokerLayout(settings.broker_dir), listener) \
        != EXAMPLES["mosquitto.conf.example"]
