"""The reference broker files in ``deploy/mosquitto/``, rendered by loaxa's own generator.

A sample commune station (``xa-tan-lap``) with its controller and two enrolled agents,
laid out where a packaged controller keeps them (``/var/lib/loaxa/broker``) and run as
the ``loaxa`` user of ``deploy/systemd/loaxa-controller.service``. The test beside this
module re-renders them and compares; regenerate on purpose with
``.venv/bin/python -m tests.deploy.mosquitto_examples``.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

from controller.broker.accounts import BrokerAccount, Role, render_acl
from controller.broker.files import BrokerLayout, render_config
from controller.broker.sync import controller_username, listener_settings
from controller.settings import BrokerSettings, Settings, StationSettings

FOLDER = Path(__file__).resolve().parents[2] / "deploy" / "mosquitto"
COMMUNE = "xa-tan-lap"
AGENTS = ("ag-0001", "ag-0002")


def sample_settings() -> Settings:
    return Settings(station=StationSettings(commune=COMMUNE, name="Xã Tân Lập"),
                    broker=BrokerSettings(bind="0.0.0.0", public_host="dai.xa-tan-lap.example"))


def sample_accounts(commune: str = COMMUNE,
                    agents: tuple[str, ...] = AGENTS) -> list[BrokerAccount]:
    """The registry's accounts: the ACL does not depend on the password hashes."""
    return [BrokerAccount(controller_username(commune), "", Role.CONTROLLER, commune),
            *(BrokerAccount(agent, "", Role.AGENT, commune) for agent in agents)]


def examples() -> dict[str, str]:
    """File name in ``deploy/mosquitto/`` -> its exact content."""
    settings = sample_settings()
    listener = dataclasses.replace(listener_settings(settings), run_as="loaxa")
    return {"mosquitto.conf.example": render_config(BrokerLayout(settings.broker_dir), listener),
            "acl.example": render_acl(sample_accounts())}


if __name__ == "__main__":  # python -m tests.deploy.mosquitto_examples  (regenerate)
    for name, text in examples().items():
        (FOLDER / name).write_text(text)
        print("wrote", FOLDER / name)
