"""Bytes on the wire of one TCP connection, from Linux ``TCP_INFO``.

The 4G bill counts TCP payload (TLS records included), not MQTT messages, so that is what
the agent reports: ``tcpi_bytes_acked`` (sent and acknowledged by the peer) and
``tcpi_bytes_received``. Both live at fixed offsets of ``struct tcp_info`` since Linux 4.2.
"""

from __future__ import annotations

import socket
import struct
from typing import Any

_TCP_INFO_LEN = 232
_BYTES_ACKED = 120  # __u64 tcpi_bytes_acked (RFC 4898 tcpEStatsAppHCThruOctetsAcked)
_BYTES_RECEIVED = 128  # __u64 tcpi_bytes_received
_RTT_US = 68  # __u32 tcpi_rtt


def tcp_bytes(sock: Any) -> tuple[int, int] | None:
    """``(sent, received)`` payload bytes of a connected TCP socket, or None if unknown."""
    option = getattr(socket, "TCP_INFO", None)
    if option is None or sock is None:
        return None
    try:
        raw = sock.getsockopt(socket.IPPROTO_TCP, option, _TCP_INFO_LEN)
    except (OSError, ValueError, AttributeError):
        return None
    if len(raw) < _BYTES_RECEIVED + 8:
        return None
    acked, received = struct.unpack_from("<QQ", raw, _BYTES_ACKED)
    # The SYN occupies one sequence number and is counted as acknowledged.
    return max(acked - 1, 0), received


def tcp_rtt_ms(sock: Any) -> float | None:
    option = getattr(socket, "TCP_INFO", None)
    if option is None or sock is None:
        return None
    try:
        raw = sock.getsockopt(socket.IPPROTO_TCP, option, _TCP_INFO_LEN)
    except (OSError, ValueError, AttributeError):
        return None
    if len(raw) < _RTT_US + 4:
        return None
    (rtt_us,) = struct.unpack_from("<I", raw, _RTT_US)
    return float(rtt_us) / 1000.0
