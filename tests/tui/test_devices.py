"""Thiết bị against a real station and a real agent: its telemetry and journal, setting
its volume (the agent applies it and says so), stopping playback after a confirmation,
rebooting it (its reboot command, configured by the fleet to touch a file, runs) and
restarting its service (it exits; brought back as systemd would), refusals shown as
notifications, and enrolling a new agent with a one-time code."""

from __future__ import annotations

import re

from textual.widgets import DataTable, Input, Static

from controller.tui.panes.devices import DevicesPane
from controller.tui.widgets import ChoiceScreen, CodeScreen, ConfirmScreen, NumberPrompt
from tests.tui.conftest import FleetStation, drive, screen_text, until


async def open_agent(pilot, app, agent_id: str) -> DevicesPane:  # type: ignore[no-untyped-def]
    """Tab 6, then up or down the list to the agent (as an operator would: the list is
    sorted by id, and the fleet agent's id is random, so it may stand above or below)."""
    await until(pilot, lambda: bool(app.username), what="the connection")
    await pilot.press("6")
    pane = app.query_one(DevicesPane)
    await until(pilot, lambda: bool(pane.agents), what="the agents")
    ids = [str(a["id"]) for a in pane.agents]
    assert agent_id in ids, ids
    for _step in range(len(ids)):
        if pane.selected == agent_id:
            break
        here = ids.index(pane.selected) if pane.selected in ids else 0
        await pilot.press("down" if ids.index(agent_id) > here else "up")
    await until(pilot, lambda: pane.agent is not None and pane.agent["id"] == agent_id,
                what=f"agent {agent_id} (selected {pane.selected} of {ids})")
    return pane


RECORD_LABELS = {"boot": "khởi động", "anchor": "đồng hồ chuẩn",
                 "interval_open": "loa hoạt động", "interval_extend": "loa vẫn hoạt động",
                 "interval_close": "loa ngừng", "event": "sự kiện", "play": "đã phát"}


def journal_kinds(app) -> list[str]:  # type: ignore[no-untyped-def]
    table = app.query_one("#journal", DataTable)
    return [str(table.get_row_at(n)[1]) for n in range(table.row_count)]


def commands(fleet: FleetStation) -> list[dict[str, object]]:
    page = fleet.call("GET", "/audit", params={"action": "agent.command", "limit": 100})
    return list(page["entries"])


def notices(app) -> str:  # type: ignore[no-untyped-def]
    return "\n".join(str(n.message) for n in app._notifications)


def test_the_agents_telemetry_and_recent_events(fleet: FleetStation) -> None:
    fleet.wait_online()

    async def scenario() -> None:
        app = fleet.console()
        async with app.run_test(size=(80, 24)) as pilot:
            pane = await open_agent(pilot, app, fleet.agent_id)
            # (the birth can be shown before the first heartbeat has come in)
            await until(pilot, lambda: "Phần mềm: loaxa" in screen_text(app)
                        and bool(pane.telemetry.get("heartbeat")) and bool(pane.records)
                        and "v Âm lượng" in screen_text(app),
                        timeout=20, what="telemetry, the journal and the pane's keys")
            # the agent's most recent records (which ones depends on what other tests
            # made it do), each named in Vietnamese, the newest on screen
            shown = journal_kinds(app)
            assert shown == [RECORD_LABELS[r["kind"]] for r in pane.records], shown
            text = screen_text(app)
            assert shown[0] in text
            for label in ("Thiết bị (2)", "trực tuyến", "Âm lượng:", "Đồng hồ:",
                          "Đĩa trống:", "Sự kiện gần đây"):
                assert label in text, (label, text)
            assert f"{fleet.agent_id}  cụm c-dong, thôn thon-dong" in text
            for key in ("v Âm lượng", "s Dừng phát", "b Khởi động lại", "n Ghi danh",
                        "q Thoát"):
                assert key in text, (key, text)  # the footer, at 80 columns
            assert pane.telemetry["heartbeat"]["uptime_s"] >= 0

    drive(scenario)


def test_setting_the_volume_reaches_the_agent(fleet: FleetStation) -> None:
    fleet.wait_online()
    before = len(commands(fleet))
    level = 35 if fleet.live(fleet.agent_id)["volume"] != 35 else 45

    async def scenario() -> None:
        app = fleet.console()
        async with app.run_test(size=(80, 24)) as pilot:
            await open_agent(pilot, app, fleet.agent_id)
            await pilot.press("v")
            await until(pilot, lambda: isinstance(app.screen, NumberPrompt),
                        what="the volume prompt")
            field = app.screen.query_one(Input)
            field.value = ""
            await pilot.press(*str(level), "enter")
            await until(pilot, lambda: f"Đã gửi lệnh âm lượng {level}%" in notices(app),
                        what="the confirmation")
            # The agent applied it: its heartbeat says so, and its journal has the event.
            await until(pilot, lambda: f"Âm lượng: {level}%" in screen_text(app),
                        timeout=20, what="the agent's new volume")
            await until(pilot, lambda: f"cmd-volume {level}" in screen_text(app),
                        timeout=20, what="the command in the agent's journal")

    drive(scenario)
    entries = commands(fleet)
    assert len(entries) == before + 1
    assert entries[0]["target"] == fleet.agent_id and entries[0]["username"] == "admin"
    assert entries[0]["detail"]["action"] == "volume"
    assert entries[0]["detail"]["level"] == level


def test_stop_asks_first_and_refusals_are_notifications(fleet: FleetStation) -> None:
    before = len(commands(fleet))

    async def scenario() -> None:
        app = fleet.console()
        async with app.run_test(size=(80, 24)) as pilot:
            await open_agent(pilot, app, fleet.agent_id)
            await pilot.press("s")
            await until(pilot, lambda: isinstance(app.screen, ConfirmScreen),
                        what="the question")
            question = app.screen.query_one(".question", Static)
            assert "dừng phát" in str(question.render())
            await pilot.press("n")  # changed their mind: nothing is sent
            await until(pilot, lambda: not isinstance(app.screen, ConfirmScreen))
            assert len(commands(fleet)) == before
            await pilot.press("s")
            await until(pilot, lambda: isinstance(app.screen, ConfirmScreen))
            await pilot.press("y")
            await until(pilot, lambda: "Đã gửi lệnh «dừng phát»" in notices(app),
                        what="the confirmation")
            # The registered agent has no credentials yet: the station refuses, the
            # console says why (in Vietnamese) and carries on.
            app.clear_notifications()
            pane = await open_agent(pilot, app, fleet.pending_id)
            await pilot.press("b")
            await until(pilot, lambda: isinstance(app.screen, ConfirmScreen))
            await pilot.press("y")
            await until(pilot, lambda: "chưa được ghi danh" in notices(app),
                        what="the refusal")
            assert pane.is_attached and app.is_running

    drive(scenario)
    assert len(commands(fleet)) == before + 1

    token = fleet.user("xem-thoi", "viewer")

    async def as_viewer() -> None:
        app = fleet.console(token=token)
        async with app.run_test(size=(80, 24)) as pilot:
            await open_agent(pilot, app, fleet.agent_id)
            assert "xem-thoi" in app.sub_title
            await pilot.press("v")
            await until(pilot, lambda: isinstance(app.screen, NumberPrompt))
            app.screen.query_one(Input).value = ""
            await pilot.press("2", "0", "enter")
            await until(pilot, lambda: "không có quyền" in notices(app),
                        what="the refusal")

    drive(as_viewer)
    assert len(commands(fleet)) == before + 1


async def confirm(pilot, app, key: str, answer: str) -> str:  # type: ignore[no-untyped-def]
    """Press ``key``, read the question, answer it; the question."""
    await pilot.press(key)
    await until(pilot, lambda: isinstance(app.screen, ConfirmScreen), what="the question")
    question = str(app.screen.query_one(".question", Static).render())
    await pilot.press(answer)
    await until(pilot, lambda: not isinstance(app.screen, ConfirmScreen))
    return question


def test_reboot_runs_the_agents_reboot_command_and_is_audited(fleet: FleetStation) -> None:
    fleet.wait_online()
    fleet.reboot_flag.unlink(missing_ok=True)
    before = len(commands(fleet))

    async def scenario() -> None:
        app = fleet.console()
        async with app.run_test(size=(80, 24)) as pilot:
            await open_agent(pilot, app, fleet.agent_id)
            question = await confirm(pilot, app, "b", "n")
            assert "khởi động lại máy" in question and "Loa sẽ im lặng" in question
            assert len(commands(fleet)) == before  # "no": nothing sent
            assert await confirm(pilot, app, "b", "y") == question
            await until(pilot, lambda: "Đã gửi lệnh «khởi động lại máy»" in notices(app),
                        what="the confirmation")
            await until(pilot, fleet.reboot_flag.exists, 20,
                        "the agent to run its reboot command")
            await until(pilot, lambda: "cmd-reboot" in screen_text(app), 20,
                        "the command in the agent's journal")

    drive(scenario)
    entries = commands(fleet)
    assert len(entries) == before + 1
    assert (entries[0]["target"], entries[0]["username"], entries[0]["detail"]["action"]) \
        == (fleet.agent_id, "admin", "reboot")
    assert fleet.agent is not None and fleet.agent.alive  # a reboot that only touched a file


def test_restart_stops_the_service_and_it_comes_back(fleet: FleetStation) -> None:
    fleet.wait_online()
    agent = fleet.agent
    assert agent is not None
    before = len(commands(fleet))

    async def scenario() -> None:
        app = fleet.console()
        async with app.run_test(size=(80, 24)) as pilot:
            await open_agent(pilot, app, fleet.agent_id)
            question = await confirm(pilot, app, "r", "y")
            assert "chạy lại dịch vụ" in question
            await until(pilot, lambda: not agent.alive, 20, "the agent to exit")
            assert agent.proc is not None and agent.proc.returncode == 0  # an orderly exit
            await until(pilot, lambda: "Tình trạng: mất kết nối" in screen_text(app), 30,
                        "the agent offline")
            agent.start()  # systemd's Restart=always
            await until(pilot, lambda: "Tình trạng: trực tuyến" in screen_text(app), 30,
                        "the agent back online")
            await until(pilot, lambda: "cmd-restart" in screen_text(app), 20,
                        "the command in the agent's journal, sent after the restart")

    try:
        drive(scenario)
    finally:
        if not agent.alive:
            agent.start()
        fleet.wait_online()
    entries = commands(fleet)
    assert len(entries) == before + 1 and entries[0]["detail"]["action"] == "restart"


def test_enrolling_a_new_agent_shows_its_code(fleet: FleetStation) -> None:
    issued: dict[str, str] = {}
    fleet.call("POST", "/communes/xa-demo/clusters", {  # a cluster of its own
        "key": "c-moi", "name": "Cụm mới", "kind": "ip", "station": "st-1",
        "village": "thon-bac"})

    async def scenario() -> None:
        app = fleet.console()
        async with app.run_test(size=(80, 24)) as pilot:
            await open_agent(pilot, app, fleet.agent_id)
            await pilot.press("n")
            await until(pilot, lambda: isinstance(app.screen, ChoiceScreen)
                        and "Cụm loa c-moi" in screen_text(app),
                        what="the clusters to choose from")
            text = screen_text(app)
            assert "Ghi danh thiết bị cho cụm loa nào?" in text
            assert "Cụm loa c-moi (thôn thon-bac)" in text
            assert "c-dong " not in text  # it has an agent already
            while app.screen.query_one("#choices").highlighted_option.id != "cluster:c-moi":
                await pilot.press("down")
            await pilot.press("enter")
            await until(pilot, lambda: isinstance(app.screen, CodeScreen),
                        what="the code")
            screen = app.screen
            assert isinstance(screen, CodeScreen)
            issued.update(screen.issued)
            text = screen_text(app)
            assert "Mã ghi danh dùng một lần" in text
            spaced = str(screen.query_one("#code", Static).render())
            assert spaced.replace(" ", "") == issued["code"]
            assert re.fullmatch(r"[A-Z0-9]{4}(-[A-Z0-9]{4})+", issued["code"])
            assert "loaxa agent enroll" in text
            await pilot.press("escape")
            pane = app.query_one(DevicesPane)
            await until(pilot, lambda: pane.selected == issued["agent_id"]
                        and pane.agent is not None
                        and pane.agent["id"] == issued["agent_id"],
                        what="the new agent selected")

    drive(scenario)
    # The code the console showed is the one the station waits for (claiming it with
    # the agent's CLI is tests/e2e/test_station_fleet.py's business).
    pending = fleet.call("GET", "/enrolment-codes", params={"commune": "xa-demo"})
    assert issued["agent_id"] in {p["agent_id"] for p in pending}
    assert fleet.call("GET", f"/agents/{issued['agent_id']}")["cluster"] == "c-moi"


def test_the_cli_sends_the_same_commands(fleet: FleetStation) -> None:
    """``loaxa agents command AGENT volume 60 --json`` and ``loaxa agents journal``: the
    same endpoint as the console, for scripts."""
    fleet.wait_online()
    sent = fleet.operator.json("agents", "command", fleet.agent_id, "volume", "60")
    assert sent["action"] == "volume" and sent["level"] == 60
    assert sent["agent_id"] == fleet.agent_id and sent["counter"] >= 1
    journal = fleet.operator.json("agents", "journal", fleet.agent_id, "--limit", "5")
    assert 1 <= len(journal) <= 5 and {"seq", "kind", "at", "code"} <= set(journal[0])
