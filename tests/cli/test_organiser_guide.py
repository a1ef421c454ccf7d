"""docs/organiser.md, run: the guide cannot go stale.

The ```sh blocks marked ``<!-- run -->`` are run in order in an empty folder,
with ``istifta`` the real command line (in this process, through
``CliRunner``); at each ``<!-- test: NAME -->`` the test does what the
trustees or the voters do there, with their real commands; the observers'
``monitor.py`` (docs/observers.md) watches the board throughout; and the
record the guide exports must verify. A second test checks that every
``istifta`` command shown in the guides names a real command with real
options, so that a renamed option breaks the build rather than a reader.
"""

from __future__ import annotations

import glob
import json
import os
import re
import shlex
import subprocess
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import cache
from pathlib import Path
from typing import Any

import pytest
import typer
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from istifta.cli import app
from istifta.protocol.ballot import build_ballot
from istifta.protocol.parameters import parse_parameters
from istifta.protocol.treehead import TreeHead
from istifta.record.io import read_record
from istifta.sms.gateways.outbox import read_outbox
from istifta.store.referendums import load_board_key
from istifta.testing import manifest_json
from istifta.web.app import create_app
from istifta.web.settings import WebSettings

DOCS = Path(__file__).resolve().parents[2] / "docs"
GUIDE = DOCS / "organiser.md"
SHOWN = ("organiser.md", "observers.md", "deployment.md", "trustees.md")
HOOK = re.compile(r"^<!-- test: ([a-z-]+) -->$")
HEREDOC = re.compile(r"^cat > (\S+) <<'(\w+)'$")
DATA = Path("istifta-data")


# --- reading the guide ---


@dataclass(frozen=True)
class Block:
    lines: tuple[str, ...]
    line: int
    """The line of the guide where the block's text starts."""
    run: bool


@dataclass(frozen=True)
class Hook:
    name: str
    line: int


def fenced(text: str, language: str) -> list[Block]:
    """Every ```language block, and whether ``<!-- run -->`` comes right before it."""
    blocks, lines, i = [], text.splitlines(), 0
    while i < len(lines):
        if lines[i].strip() == f"```{language}":
            start, i = i + 1, i + 1
            while lines[i].strip() != "```":
                i += 1
            before = [line for line in lines[: start - 1] if line.strip()]
            marked = bool(before) and before[-1].strip() == "<!-- run -->"
            blocks.append(Block(tuple(lines[start:i]), start + 1, marked))
        i += 1
    return blocks


def guide_steps(text: str) -> list[Block | Hook]:
    """The run blocks and the hooks, in the guide's order."""
    hooks = [
        Hook(m.group(1), n + 1) for n, line in enumerate(text.splitlines()) if (m := HOOK.match(line.strip()))
    ]
    runs: list[Block | Hook] = [b for b in fenced(text, "sh") if b.run]
    return sorted(runs + hooks, key=lambda step: step.line)


def commands(lines: tuple[str, ...]) -> Iterator[str | tuple[str, str]]:
    """Logical lines (continuations joined), a heredoc as ``(file, body)``."""
    it = iter(lines)
    for raw in it:
        line = raw.strip()
        while line.endswith("\\"):
            line = line[:-1] + " " + next(it).strip()
        if not line or line.startswith("#"):
            continue
        heredoc = HEREDOC.match(line)
        if heredoc:
            body = []
            for part in it:
                if part == heredoc.group(2):
                    break
                body.append(part + "\n")
            yield heredoc.group(1), "".join(body)
        else:
            yield line


# --- running it ---


class Organiser:
    """Runs the guide's commands in the current folder and keeps a transcript."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.monkeypatch = monkeypatch
        self.transcript: list[str] = []

    def istifta(self, *args: str | Path) -> str:
        result = CliRunner().invoke(app, [str(a) for a in args])
        line = "istifta " + " ".join(map(str, args))
        self.transcript.append(f"$ {line}\n{result.output}")
        assert result.exit_code == 0, f"{line} exited {result.exit_code}:\n{result.output}"
        return result.output

    def run(self, block: Block) -> None:
        for command in commands(block.lines):
            if isinstance(command, tuple):
                Path(command[0]).write_text(command[1], encoding="utf-8")
            elif command.startswith("export "):
                for assignment in shlex.split(command)[1:]:
                    name, _, value = assignment.partition("=")
                    self.monkeypatch.setenv(name, value)
            elif command.startswith("istifta "):
                self.istifta(*_expand(shlex.split(command, comments=True)[1:]))
            else:
                done = subprocess.run(["bash", "-ec", command], capture_output=True, text=True)
                self.transcript.append(f"$ {command}\n{done.stdout}{done.stderr}")
                assert done.returncode == 0, f"line {block.line}: {command}: {done.stderr}"


def _expand(args: list[str]) -> list[str]:
    """Globs as the shell expands them (a glob that matches nothing is an error)."""
    out: list[str] = []
    for arg in args:
        if any(c in arg for c in "*?["):
            found = sorted(glob.glob(arg))
            assert found, f"{arg} matches no file"
            out += found
        else:
            out.append(arg)
    return out


class Others:
    """The trustees, the voters and an observer, each doing their part with
    their own commands, in folders of their own."""

    VOTES = {  # phone: the choices cast in order (the last counts); +9647805550106 does not vote
        "+9647701234501": [0, 1],
        "+9647701234502": [0],
        "+9647501112203": [0],
        "+9647501112204": [1],
        "+9647805550105": [0],
    }

    def __init__(self, organiser: Organiser, home: Path) -> None:
        self.o, self.home = organiser, home
        self.heads = home / "observer" / "c24-tree-heads.jsonl"
        self.heads.parent.mkdir()
        self.monitor = _monitor_module()
        self.closing = ExitStack()
        self.client: TestClient | None = None

    @property
    def n(self) -> int:
        return int(json.loads(Path("referendum.json").read_text(encoding="utf-8"))["trustees"]["n"])

    def state(self, i: int) -> Path:
        return self.home / "trustees" / f"state-{i}"

    def schedule(self) -> None:
        manifest = json.loads(Path("referendum.json").read_text(encoding="utf-8"))
        now = datetime.now(UTC).replace(microsecond=0)
        manifest["opens_at"] = f"{now - timedelta(hours=1):%Y-%m-%dT%H:%M:%SZ}"
        manifest["closes_at"] = f"{now + timedelta(days=1):%Y-%m-%dT%H:%M:%SZ}"
        Path("referendum.json").write_text(json.dumps(manifest, ensure_ascii=False), encoding="utf-8")

    def trustees_init(self) -> None:
        Path("from-trustees").mkdir()
        for i in range(1, self.n + 1):
            out = f"from-trustees/trustee-{i}.json"
            self.o.istifta(
                "trustee", "init", "referendum.json", "--index", i, "--state", self.state(i), "--out", out
            )

    def trustees_deal(self) -> None:
        Path("shares").mkdir()
        prints = {
            _fingerprint(
                self.o.istifta(
                    "trustee", "deal", "--state", self.state(i), "from-trustees", "--out", "shares"
                )
            )
            for i in range(1, self.n + 1)
        }
        assert len(prints) == 1, f"the trustees' fingerprints differ: {prints}"  # the phone call

    def trustees_receive(self) -> None:
        for i in range(1, self.n + 1):
            assert f"your verification key V_{i}" in self.o.istifta(
                "trustee", "receive", "--state", self.state(i), "shares"
            )

    def trustees_check(self) -> None:
        for i in range(1, self.n + 1):
            assert "uses your ceremony's keys" in self.o.istifta(
                "trustee", "check", "--state", self.state(i), "opened"
            )
        self.watch()

    def voters(self) -> None:
        codes: dict[str, str] = {}
        for message in read_outbox(DATA):
            codes.setdefault(message.phone, message.text.rsplit("#", 1)[1])
        assert len(codes) == 6, "every voter got an invitation"
        board = Path("opened/board.jsonl").read_text(encoding="utf-8")
        params = parse_parameters(json.loads(board.splitlines()[0])["parameters"])
        ballots = self.home / "voters"
        ballots.mkdir()
        for phone, choices in self.VOTES.items():
            for n, choice in enumerate(choices):
                path = ballots / f"{phone}-{n}.json"
                ballot = build_ballot(params, codes[phone], [[choice]], os.urandom)
                path.write_text(json.dumps(ballot.to_json()), encoding="utf-8")
                receipt = json.loads(self.o.istifta("election", "cast", "c24", path))
                assert receipt["tracker"] == ballot.tracker
                self.watch()

    def trustees_decrypt(self) -> None:
        self.watch()
        announced = _root(self.o.transcript[-1])  # what `istifta election status` printed
        for j in (1, 3):  # as the guide says: trustee 2 is away
            said = self.o.istifta(
                "trustee", "decrypt", "--state", self.state(j), "tallied", "--out", f"partial-{j}.json"
            )
            assert _root(said) == announced, "the trustee decrypts the board the organiser announced"

    def watch(self) -> None:
        """The observer's monitor.py, against the server's API."""
        if self.client is None:
            web = create_app(WebSettings(data_dir=DATA.resolve()))
            self.client = self.closing.enter_context(TestClient(web))
        board_key = bytes.fromhex(Path("opened/board_key").read_text(encoding="ascii"))
        self.monitor["watch_once"](self.client, "c24", board_key, self.heads)

    def close(self) -> None:
        self.closing.close()


def _fingerprint(output: str) -> str:
    found = re.search(r"fingerprint of the public files: ([0-9a-f ]+)", output)
    assert found, output
    return found.group(1)


def _root(output: str) -> str:
    found = re.search(r"root ([0-9a-f]{64})", output)
    assert found, output
    return found.group(1)


def _monitor_module() -> dict[str, Any]:
    """The observers' monitor.py, exactly as docs/observers.md shows it."""
    text = (DOCS / "observers.md").read_text(encoding="utf-8")
    marker = text.index("<!-- monitor -->")
    block = fenced(text[marker:], "python")[0]
    namespace: dict[str, Any] = {"__name__": "monitor"}
    exec(compile("\n".join(block.lines), "docs/observers.md:monitor.py", "exec"), namespace)
    return namespace


def test_the_organisers_guide_runs_to_a_verified_record(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in [n for n in os.environ if n.startswith("ISTIFTA_")]:
        monkeypatch.delenv(name)
    folder = tmp_path / "organiser"
    folder.mkdir()
    monkeypatch.chdir(folder)
    organiser = Organiser(monkeypatch)
    others = Others(organiser, tmp_path)
    hooks: dict[str, Callable[[], None]] = {
        "schedule": others.schedule,
        "trustees-init": others.trustees_init,
        "trustees-deal": others.trustees_deal,
        "trustees-receive": others.trustees_receive,
        "trustees-check": others.trustees_check,
        "voters": others.voters,
        "trustees-decrypt": others.trustees_decrypt,
    }
    steps = guide_steps(GUIDE.read_text(encoding="utf-8"))
    assert sorted(s.name for s in steps if isinstance(s, Hook)) == sorted(hooks), "each hook once"
    try:
        for step in steps:
            if isinstance(step, Hook):
                hooks[step.name]()
            else:
                organiser.run(step)
        others.watch()
    finally:
        others.close()

    assert organiser.transcript[-2].startswith("$ istifta verify c24-record.zip")
    said = "\n".join(organiser.transcript)
    for quoted in (  # what the guide says these commands print
        "trustees: 2 of 3",
        "invitations for 6 voters: 6 segments × 0.015 USD = 0.09 USD",
        "✓ the record verifies",
    ):
        assert quoted in said, f"the guide quotes {quoted!r}, which no command printed"
    report = json.loads(organiser.istifta("verify", "c24-record.zip", "--json"))
    assert report["ok"] is True and report["complete"] is True
    result = json.loads(read_record(Path("c24-record.zip")).board[-1])
    assert result["counts"] == [[3, 2]], "the last ballot of each voter: yes 3, no 2"
    assert result["trustees"] == [1, 3]
    assert result["turnout"]["eligible"] == 6 and result["turnout"]["voted"] == 5
    assert result["turnout"]["by_region"]["Baghdad"] == {"eligible": 2, "voted": 1}

    monitor = others.monitor
    board_key = bytes.fromhex(Path("opened/board_key").read_text(encoding="ascii"))
    largest = monitor["check_record"](Path("c24-record.zip"), board_key, others.heads)
    assert largest == _entries(report)


def _entries(report: dict[str, Any]) -> int:
    (tree_head,) = [c for c in report["checks"] if c["name"] == "tree_head"]
    return int(tree_head["figures"]["entries"])


def test_the_monitor_raises_the_alarm_on_a_board_that_signs_two_histories(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The observers' script against a board whose key signed a head of
    another history: what it exists to catch."""
    monkeypatch.chdir(tmp_path)
    manifest = manifest_json(slug="c24")
    manifest["opens_at"], manifest["closes_at"] = "2024-01-01T00:00:00Z", "2099-01-01T00:00:00Z"
    Path("m.json").write_text(json.dumps(manifest), encoding="utf-8")
    organiser = Organiser(monkeypatch)
    n = manifest["trustees"]["n"]
    for i in range(1, n + 1):
        organiser.istifta(
            "trustee", "init", "m.json", "--index", i, "--state", f"t{i}", "--out", f"trustee-{i}.json"
        )
    organiser.istifta("election", "create", "m.json")
    organiser.istifta("election", "add-trustee", "c24", *[f"trustee-{i}.json" for i in range(1, n + 1)])
    organiser.istifta("electorate", "generate", "c24", "--count", "3", "--codes", "codes.csv")
    organiser.istifta("election", "open", "c24")
    organiser.istifta("election", "close", "c24")

    monitor = _monitor_module()
    key = load_board_key(DATA)
    board_key = bytes(key.verify_key)
    with TestClient(create_app(WebSettings(data_dir=DATA.resolve()))) as client:
        honest = monitor["watch_once"](client, "c24", board_key, tmp_path / "honest.jsonl")
        assert honest["size"] == 2
        forged = TreeHead.sign(1, bytes(32), honest["timestamp"], key).to_json()  # a board of one other entry
        with pytest.raises(monitor["Alarm"], match="two different boards"):
            monitor["compare"](client, "c24", board_key, honest, forged)
        kept = tmp_path / "forked.jsonl"
        kept.write_text(json.dumps(forged) + "\n", encoding="utf-8")
        with pytest.raises(monitor["Alarm"], match="does not extend"):
            monitor["watch_once"](client, "c24", board_key, kept)
        unsigned = dict(honest, root="00" * 32)
        with pytest.raises(monitor["Alarm"], match="did not sign"):
            monitor["compare"](client, "c24", board_key, honest, unsigned)


# --- every command the guides show is real ---


def _subcommands(command: Any) -> dict[str, Any] | None:
    """A group's commands (typer's own click has no ``Group`` class to test for)."""
    found = getattr(command, "commands", None)
    return found if isinstance(found, dict) else None


@cache
def _cli() -> Any:
    return typer.main.get_command(app)


def _command(tokens: list[str]) -> tuple[Any, list[str], str]:
    """The command ``tokens`` (after ``istifta``) names, and its arguments."""
    command: Any = _cli()
    path = ["istifta"]
    while (sub := _subcommands(command)) is not None and tokens and tokens[0] in sub:
        path.append(tokens[0])
        command = sub[tokens.pop(0)]
    return command, tokens, " ".join(path)


def _simple_commands(line: str) -> Iterator[list[str]]:
    """The simple commands of a shell line, without their redirections."""
    lexer = shlex.shlex(line, posix=True, punctuation_chars=True)
    lexer.whitespace_split = True
    words: list[str] = []
    redirected = False
    for word in [*lexer, ";"]:
        if redirected:
            redirected = False
        elif word in {">", ">>", "<"}:
            redirected = True
        elif word in {";", "&&", "||", "|"}:
            if words:
                yield words
            words = []
        else:
            words.append(word)


def _shown_commands() -> Iterator[tuple[str, list[str]]]:
    """Every ``istifta`` command in the guides' ```sh blocks: (where, arguments)."""
    for name in SHOWN:
        for block in fenced((DOCS / name).read_text(encoding="utf-8"), "sh"):
            for command in commands(block.lines):
                if isinstance(command, str):
                    for words in _simple_commands(command):
                        if words[0] == "istifta":
                            yield f"docs/{name}:{block.line}", words[1:]


def test_every_istifta_command_in_the_guides_is_real() -> None:
    shown = list(_shown_commands())
    assert len(shown) > 25
    for where, args in shown:
        command, rest, path = _command(args)
        assert _subcommands(command) is None, f"{where}: `{path} {' '.join(rest)}` is not a command"
        try:
            command.make_context(path, rest)
        except typer.TyperException as error:
            raise AssertionError(f"{where}: `{path} {' '.join(rest)}`: {error.format_message()}") from None


def test_every_istifta_command_named_in_the_guides_prose_is_real() -> None:
    """Inline `istifta …` spans: the command exists and each option is its own."""
    named = 0
    for name in (*SHOWN, "threat-model.md"):
        text = re.sub(r"<!--.*?-->", "", (DOCS / name).read_text(encoding="utf-8"), flags=re.S)
        for span in re.findall(r"`(istifta [^`]+)`", text.replace("\n", " ")):
            tokens = shlex.split(span.replace("…", ""))[1:]
            command, rest, path = _command(tokens)
            if _subcommands(command) is not None:
                assert not rest, f"{name}: `{span}`: {path} has no command {rest[0]!r}"
                continue
            options = {opt for p in command.params for opt in (*p.opts, *p.secondary_opts)}
            for token in rest:
                if token.startswith("-"):
                    assert token.split("=")[0] in options, f"{name}: `{span}`: {path} has no option {token}"
            named += 1
    assert named > 40


def _anchor(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces as hyphens."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def test_the_guides_links_lead_somewhere() -> None:
    """Every link from these guides to a file of docs/ (and its heading) exists."""
    checked = 0
    for name in (*SHOWN, "threat-model.md"):
        text = (DOCS / name).read_text(encoding="utf-8")
        for target in re.findall(r"\]\(([^)#\s]*)(?:#([^)\s]+))?\)", text):
            file, anchor = target
            if "://" in file or not file.endswith(".md") and file:
                continue
            linked = (DOCS / file) if file else DOCS / name
            assert linked.exists(), f"{name} links to {file}, which does not exist"
            if anchor:
                headings = re.findall(r"^#+ (.+)$", linked.read_text(encoding="utf-8"), flags=re.M)
                assert anchor in {_anchor(h) for h in headings}, f"{name}: {file}#{anchor} is no heading"
            checked += 1
    assert checked > 20
