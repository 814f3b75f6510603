"""The topic tree: built and parsed symmetrically; nothing else parses."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from protocols.topics import (
    AgentChannel,
    DocKind,
    InvalidIdentifier,
    agent_subscriptions,
    agent_topic,
    document_topic,
    parse_topic,
)


@pytest.mark.parametrize("channel", [c for c in AgentChannel if c is not AgentChannel.DOCUMENT])
def test_agent_topics_round_trip(channel: AgentChannel) -> None:
    topic = agent_topic("xa-1", "ag-7", channel)
    assert topic == f"loaxa/v1/xa-1/agent/ag-7/{channel.value}"
    address = parse_topic(topic)
    assert address is not None
    assert (address.commune, address.agent_id, address.channel) == ("xa-1", "ag-7", channel)


@pytest.mark.parametrize("kind", list(DocKind))
def test_document_topics_round_trip_in_both_scopes(kind: DocKind) -> None:
    for agent in (None, "ag-7"):
        address = parse_topic(document_topic("xa-1", kind, agent))
        assert address is not None
        assert (address.agent_id, address.channel, address.doc_kind) == (
            agent, AgentChannel.DOCUMENT, kind)


@pytest.mark.parametrize("bad", ["", "a/b", "+", "#", "Ag", "-x", "x" * 65, "a b", "ă"])
def test_identifiers_cannot_smuggle_separators_or_wildcards(bad: str) -> None:
    with pytest.raises(InvalidIdentifier):
        agent_topic(bad, "ag-1", AgentChannel.BIRTH)
    with pytest.raises(InvalidIdentifier):
        agent_topic("xa-1", bad, AgentChannel.BIRTH)


@pytest.mark.parametrize("topic", [
    "loaxa/v2/xa-1/agent/ag-7/hb", "other/v1/xa-1/agent/ag-7/hb", "loaxa/v1/xa-1/agent/ag-7",
    "loaxa/v1/xa-1/agent/ag-7/hb/extra", "loaxa/v1/xa-1/agent/ag-7/doc", "loaxa/v1/xa-1/doc/x",
    "loaxa/v1/xa-1/agent/+/hb", "loaxa/v1/#", "loaxa/v1/xa-1/agent/ag-7/doc/plan/x",
])
def test_foreign_topics_do_not_parse(topic: str) -> None:
    assert parse_topic(topic) is None


@given(st.text(max_size=200))
def test_parse_never_raises(text: str) -> None:
    parse_topic(text)


def test_agent_subscribes_only_to_what_is_addressed_to_it() -> None:
    assert agent_subscriptions("xa-1", "ag-7") == [
        "loaxa/v1/xa-1/agent/ag-7/ack", "loaxa/v1/xa-1/agent/ag-7/cmd",
        "loaxa/v1/xa-1/agent/ag-7/doc/+", "loaxa/v1/xa-1/doc/+"]
