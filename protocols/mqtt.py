"""How both sides connect to the broker: MQTT 5 over TLS with the station's private CA.

The private CA issues nothing but broker certificates, so verifying the chain against
it pins the broker; host-name checking is off because a station's address changes
(DHCP, a new 4G router) far more often than its CA.
"""

from __future__ import annotations

import ssl

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties


def tls_context(ca_pem: str | bytes) -> ssl.SSLContext:
    context = ssl.create_default_context(
        cadata=ca_pem.decode() if isinstance(ca_pem, bytes) else ca_pem)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_REQUIRED
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    return context


def new_client(client_id: str, username: str, password: str, ca_pem: str | bytes,
               *, will: tuple[str, bytes, int] | None = None) -> mqtt.Client:
    """A configured (not yet connected) MQTT 5 client.

    ``will`` is ``(topic, payload, delay_s)``: the broker publishes it, retained, only
    when the client stays away longer than the delay, so a 4G hiccup does not flap it.
    """
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id,
                         protocol=mqtt.MQTTv5)
    client.username_pw_set(username, password)
    client.tls_set_context(tls_context(ca_pem))
    if will is not None:
        topic, payload, delay_s = will
        properties = Properties(PacketTypes.WILLMESSAGE)  # type: ignore[no-untyped-call]
        properties.WillDelayInterval = delay_s
        client.will_set(topic, payload, qos=1, retain=True, properties=properties)
    return client


def connect_properties(session_expiry_s: int) -> Properties:
    """Keep the session (subscriptions, queued QoS 1) across short disconnects."""
    properties = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
    properties.SessionExpiryInterval = session_expiry_s
    return properties
