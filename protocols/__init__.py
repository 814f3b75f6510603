"""The wire, and nothing else: topics, messages, codec, signed envelope, time fields.

Everything the controller and the agents say to each other is defined here, so that the
two sides can evolve apart while agents in the field keep the version they shipped with.
"""

from .acceptance import DocumentVerdict, MemoryWatermarks, WatermarkStore
from .clock import Clock, ManualClock, SkewedClock, SystemClock, stamp
from .codec import Decoder, Reason, Rejected, RejectionCounter, encode
from .envelope import Domain, Signer, open_envelope
from .inbox import (
                    AckAccepted,
                    AgentMessage,
                    CommandAccepted,
                    ControlInbox,
                    DocumentAccepted,
                    FleetInbox,
)
from .keys import SigningIdentity, key_id_of
from .messages import PROTOCOL_VERSION
from .timefields import Stamp, TimeQuality
from .topics import AgentChannel, DocKind, agent_topic, document_topic, parse_topic
from .trust import TrustStore

__all__ = [
    "PROTOCOL_VERSION", "AckAccepted", "AgentChannel", "AgentMessage", "Clock",
    "CommandAccepted", "ControlInbox", "Decoder", "DocKind", "DocumentAccepted",
    "DocumentVerdict", "Domain", "FleetInbox", "ManualClock", "MemoryWatermarks", "Reason",
    "Rejected", "RejectionCounter", "Signer", "SigningIdentity", "SkewedClock", "Stamp",
    "SystemClock", "TimeQuality", "TrustStore", "WatermarkStore", "agent_topic",
    "document_topic", "encode", "key_id_of", "open_envelope", "parse_topic", "stamp",
]
