"""The MQTT broker as loaxa configures and (when embedded) runs it."""

from .accounts import BrokerAccount, Role
from .files import BrokerLayout, write_broker_files
from .pki import CertificateAuthority
from .process import MosquittoProcess

__all__ = ["BrokerAccount", "BrokerLayout", "CertificateAuthority", "MosquittoProcess", "Role",
           "write_broker_files"]
