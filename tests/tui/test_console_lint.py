"""Every word the console shows goes through the catalog: no bare string literal may be
handed to a widget, a notification, a key binding's description, a tab, a title…

An AST check over ``controller/tui/**.py``. Text is allowed when wrapped in ``_()`` or
``N_()``; so are empty strings, strings without letters (``"—"``, ``"▶ "``), ids,
classes, CSS and other keyword arguments that are not shown, and anything that is not a
literal (data from the API). The check is itself tested on snippets, good and bad.

A second check: ``_()`` is never called at import time (module level, a class body such
as ``BINDINGS``, a default argument): that would freeze the text in the language of the
moment the module was imported, and the console may change language afterwards (the
user's stored preference). Such text is marked with ``N_()`` and translated when shown
(``localise()`` for key bindings).
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CONSOLE = ROOT / "controller" / "tui"

# Callables whose positional arguments (all of them, or the ones listed) are shown text.
SHOWN_POSITIONAL: dict[str, tuple[int, ...] | None] = {
    "Label": (0,), "Static": (0,), "Button": (0,), "TabPane": (0,), "Tab": (0,),
    "Checkbox": (0,), "RadioButton": (0,), "Switch": (), "Link": (0,), "Markdown": (0,),
    "Collapsible": (), "Option": (0,), "ListItem": (), "Rule": (), "Digits": (),
    "Text": (0,), "Content": (0,), "Input": (), "Select": (), "Placeholder": (0,),
    "notify": (0,), "update": (0,), "add_column": (0,), "add_columns": None,
    "add_row": None, "Binding": (2,), "bell": (), "panic": None, "write": (0,),
    "append": (0,), "assemble": None, "from_markup": (0,), "set_status": (0,),
    "ConfirmScreen": (0,), "NumberPrompt": (0,), "ChoiceScreen": (0,),
    "show": (0,),
}
# Keyword arguments that are shown, whatever the callable.
SHOWN_KEYWORDS = {"label", "title", "placeholder", "tooltip", "description", "prompt",
                  "message", "text", "content", "renderable", "question", "sub_title",
                  "border_title", "border_subtitle", "subtitle", "help", "header"}
# Attributes whose assignment is shown.
SHOWN_ATTRIBUTES = {"title", "sub_title", "border_title", "border_subtitle", "tooltip",
                    "label", "placeholder", "description"}
TRANSLATORS = {"_", "N_"}
LIST_METHODS = {"append", "write"}


@dataclass(frozen=True)
class Problem:
    path: str
    line: int
    text: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: untranslated text {self.text!r}"


def is_words(value: object) -> bool:
    return isinstance(value, str) and any(c.isalpha() for c in value)


def callee(node: ast.Call) -> str:
    if isinstance(node.func, ast.Name):
        return node.func.id
    if isinstance(node.func, ast.Attribute):
        return node.func.attr
    return ""


def bare_text(node: ast.AST) -> list[ast.Constant]:
    """The string literals an expression would show as they are (not through ``_``)."""
    if isinstance(node, ast.Constant):
        return [node] if is_words(node.value) else []
    if isinstance(node, ast.JoinedStr):  # f"..." — Babel cannot extract _() inside
        return [v for v in node.values if isinstance(v, ast.Constant) and is_words(v.value)]
    if isinstance(node, ast.BinOp):
        return bare_text(node.left) + bare_text(node.right)
    if isinstance(node, ast.IfExp):
        return bare_text(node.body) + bare_text(node.orelse)
    if isinstance(node, ast.BoolOp):
        return [c for value in node.values for c in bare_text(value)]
    if isinstance(node, (ast.Tuple, ast.List)):
        return [c for element in node.elts for c in bare_text(element)]
    if isinstance(node, ast.Call):
        name = callee(node)
        if name in TRANSLATORS:
            return []
        if name in ("format", "join", "strip", "upper", "lower", "title", "capitalize") \
                and isinstance(node.func, ast.Attribute):
            return bare_text(node.func.value)  # "{n} items".format(...) shows its template
        if name in ("str",) and node.args:
            return bare_text(node.args[0])
    return []


class Checker(ast.NodeVisitor):
    def __init__(self, path: str) -> None:
        self.path = path
        self.problems: list[Problem] = []
        self._in_bindings = 0

    def report(self, constants: list[ast.Constant]) -> None:
        for constant in constants:
            self.problems.append(Problem(self.path, constant.lineno, str(constant.value)))

    def visit_Call(self, node: ast.Call) -> None:
        name = callee(node)
        if name in SHOWN_POSITIONAL:
            positions = SHOWN_POSITIONAL[name]
            for index, argument in enumerate(node.args):
                if isinstance(argument, ast.Starred):
                    argument = argument.value
                if name in LIST_METHODS and isinstance(argument, (ast.Tuple, ast.List)):
                    continue  # rows.append((key, cells)): a list of data, not Text.append
                if positions is None or index in positions:
                    self.report(bare_text(argument))
        if name in SHOWN_POSITIONAL or name[:1].isupper() or name in (
                "notify", "push_screen", "dismiss"):
            for keyword in node.keywords:
                if keyword.arg in SHOWN_KEYWORDS:
                    self.report(bare_text(keyword.value))
        self.generic_visit(node)

    def visit_Assign(self, node: ast.Assign) -> None:
        for target in node.targets:
            if isinstance(target, ast.Attribute) and target.attr in SHOWN_ATTRIBUTES:
                self.report(bare_text(node.value))
            if isinstance(target, ast.Name) and target.id == "BINDINGS":
                self._bindings(node.value)
        self.generic_visit(node)

    def visit_AnnAssign(self, node: ast.AnnAssign) -> None:
        if isinstance(node.target, ast.Name) and node.target.id == "BINDINGS" and node.value:
            self._bindings(node.value)
        if isinstance(node.target, ast.Attribute) and node.target.attr in SHOWN_ATTRIBUTES \
                and node.value is not None:
            self.report(bare_text(node.value))
        self.generic_visit(node)

    def _bindings(self, value: ast.AST) -> None:
        """``BINDINGS = [("q", "quit", "Quit")]``: the third item of a tuple is shown."""
        if isinstance(value, (ast.List, ast.Tuple)):
            for element in value.elts:
                if isinstance(element, ast.Tuple) and len(element.elts) >= 3:
                    self.report(bare_text(element.elts[2]))


def lint(source: str, path: str = "<snippet>") -> list[Problem]:
    checker = Checker(path)
    checker.visit(ast.parse(source, path))
    return checker.problems


def console_files() -> list[Path]:
    return sorted(CONSOLE.rglob("*.py"))


def test_the_console_hands_no_bare_text_to_widgets() -> None:
    problems = [p for path in console_files()
                for p in lint(path.read_text(), str(path.relative_to(ROOT)))]
    assert not problems, "wrap these in _() or N_():\n" + "\n".join(map(str, problems))


BAD = '''
from textual.widgets import Button, DataTable, Input, Label, Static, TabPane
from textual.binding import Binding

class Pane:
    BINDINGS = [Binding("v", "volume", "Set volume"), ("q", "quit", "Quit")]

    def compose(self):
        yield Label("Agents")
        yield Static(f"Agents: {count}")
        yield Button("Reboot", id="reboot")
        yield Input(placeholder="User name")
        yield TabPane("Overview", id="tab-overview")

    def on_mount(self):
        table = self.query_one(DataTable)
        table.add_column("Village", key="village")
        table.add_row(agent_id, "online")
        self.notify("Command sent", title="Done")
        self.title = "Console"
        self.query_one(Static).update("Nothing on the air. " + _("Next"))
        self.notify("{n} agents".format(n=3))
        self.notify(_("fine") if ok else "not fine")
        line.append(" and more", style="dim")
'''
GOOD = '''
from controller.i18n import N_, _
from textual.widgets import Button, DataTable, Input, Label, Static

class Pane:
    BINDINGS = [Binding("v", "volume", _("Set volume")), ("q", "quit", N_("Quit"))]
    TITLE = N_("Overview")

    def compose(self):
        yield Label(_("Agents"), id="agents-title", classes="section-title")
        yield Static("", id="on-air", markup=False)
        yield Static(Text(agent["title"]), id="title")
        yield Button(_("Reboot"), id="reboot", variant="error")
        yield Input(placeholder=_("User name"), id="username", type="integer")
        yield Static("—")

    def on_mount(self):
        table = self.query_one("#clusters", DataTable)
        table.add_column(_("Village"), key="village", width=12)
        table.add_row(Text(row["name"]), text(None), key=f"agent:{agent_id}")
        self.notify(_("Sent volume {level} to {agent}.").format(level=1, agent=a),
                    severity="warning", title=_("Command sent"))
        self.title = _("Console")
        line = Text("▶ ", style="bold green")
        line.append(_("On the air"), style="bold")
        self.query_one(Static).update(_("Nothing on the air.") + " " + str(count))
        rows.append((name, cells, f"cluster:{key}"))
'''


def test_the_lint_finds_bare_text_in_a_bad_snippet() -> None:
    found = sorted({p.text for p in lint(BAD)})
    assert found == sorted({
        "Set volume", "Quit", "Agents", "Agents: ", "Reboot", "User name", "Overview",
        "Village", "online", "Command sent", "Done", "Console", "Nothing on the air. ",
        "{n} agents", "not fine", " and more"}), found


def test_the_lint_accepts_translated_text_ids_and_data() -> None:
    assert lint(GOOD) == []


@pytest.mark.parametrize("snippet", [
    'self.notify("Hello")', 'Label("Hi")', 'Binding("x", "y", "Do it")',
    'self.sub_title = f"Connected as {user}"', 'table.add_columns("A", "B")',
])
def test_each_kind_of_call_is_checked(snippet: str) -> None:
    assert lint(snippet), snippet


# ---------------------------------------------------------------------------- import time


class ImportTimeTranslation(ast.NodeVisitor):
    """``_()`` calls evaluated when the module is imported: everything outside function
    (and lambda) bodies, including decorators and default arguments."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.problems: list[Problem] = []

    def visit_FunctionDef(self, node: ast.FunctionDef | ast.AsyncFunctionDef) -> None:
        for decorator in node.decorator_list:
            self.visit(decorator)
        self.visit(node.args)  # defaults run at import; the body does not

    visit_AsyncFunctionDef = visit_FunctionDef  # type: ignore[assignment]

    def visit_arguments(self, node: ast.arguments) -> None:
        for default in [*node.defaults, *node.kw_defaults]:
            if default is not None:
                self.visit(default)

    def visit_Lambda(self, node: ast.Lambda) -> None:
        self.visit(node.args)

    def visit_Call(self, node: ast.Call) -> None:
        if isinstance(node.func, ast.Name) and node.func.id == "_":
            text = node.args[0].value if node.args and isinstance(
                node.args[0], ast.Constant) else ast.unparse(node)
            self.problems.append(Problem(self.path, node.lineno, str(text)))
        self.generic_visit(node)


def import_time_translations(source: str, path: str = "<snippet>") -> list[Problem]:
    checker = ImportTimeTranslation(path)
    checker.visit(ast.parse(source, path))
    return checker.problems


def test_nothing_is_translated_at_import_time() -> None:
    problems = [p for path in console_files()
                for p in import_time_translations(path.read_text(),
                                                  str(path.relative_to(ROOT)))]
    assert not problems, "mark these with N_() and translate when shown:\n" + \
        "\n".join(f"{p.path}:{p.line}: _({p.text!r}) at import time" for p in problems)


FROZEN = '''
GREETING = _("Hello")

class Pane:
    BINDINGS = [Binding("q", "quit", _("Quit")),
                *(Binding(k, "go", _(t)) for k, t in KEYS)]
    TITLE = _("Overview")

    def ask(self, question=_("Sure?")):
        return question

    @work(name=_("Loading"))
    async def load(self):
        pass
'''
AT_RUN_TIME = '''
GREETING = N_("Hello")
SHOW = lambda: _("Now")

class Pane:
    BINDINGS = [Binding("q", "quit", N_("Quit"))]
    TITLE = N_("Overview")

    def __init__(self):
        localise(self)
        self.title = _(self.TITLE)

    async def load(self, question=None):
        def inner():
            return _("Inside")
        return question or _("Sure?")
'''


def test_the_import_time_check_finds_frozen_translations() -> None:
    found = sorted(p.text for p in import_time_translations(FROZEN))
    assert found == sorted(["Hello", "Quit", "_(t)", "Overview", "Sure?", "Loading"]), found


def test_the_import_time_check_accepts_translation_when_shown() -> None:
    assert import_time_translations(AT_RUN_TIME) == []
