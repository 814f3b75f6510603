"""``loaxa keys ...``: the commune's signing keys and their rotation."""

from __future__ import annotations

import click

from controller.i18n import _

from .common import seg
from .context import api
from .output import emit, json_option, say, show_fields, show_table


@click.group("keys", help=_("Signing keys: list, rotate, retire."))
def keys() -> None:
    pass


@keys.command("list", help=_("The commune's keys, epoch and trust bundle version."))
@click.argument("commune")
@json_option
def keys_list(commune: str) -> None:
    def human(data: dict[str, object]) -> None:
        show_fields(data, ["commune", "epoch", "trust_version"])
        click.echo("")
        rows = data["keys"]
        assert isinstance(rows, list)
        show_table(rows, ["key_id", "status", "created_at", "changed_at"])

    emit(api().call("GET", f"/communes/{seg(commune)}/signing"), human)


@keys.command("rotate", help=_("Step 1: add a new key to the trust bundle."))
@click.argument("commune")
@json_option
def keys_rotate(commune: str) -> None:
    emit(api().call("POST", f"/communes/{seg(commune)}/signing/rotation"),
         lambda k: say(_("New key {key} is trusted; once agents have the new trust bundle, "
                         "run: loaxa keys activate {commune}").format(key=k["key_id"],
                                                                      commune=commune)))


@keys.command("activate", help=_("Step 2: sign with the new key from now on."))
@click.argument("commune")
@json_option
def keys_activate(commune: str) -> None:
    emit(api().call("POST", f"/communes/{seg(commune)}/signing/rotation/complete"),
         lambda k: say(_("Key {key} now signs.").format(key=k["key_id"])))


@keys.command("retire", help=_("Revoke an old key that no longer signs."))
@click.argument("commune")
@click.argument("key_id")
@json_option
def keys_retire(commune: str, key_id: str) -> None:
    emit(api().call("POST", f"/communes/{seg(commune)}/signing/keys/{seg(key_id)}/retire"),
         lambda k: say(_("Key {key} is revoked.").format(key=k["key_id"])))


COMMANDS = [keys]
