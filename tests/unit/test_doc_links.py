"""Every docs link in the code and the docs resolves: the page exists, and so does the heading.

References checked:

- in the project's ``.py`` files (consumer_app, devkit, producer, infra, tests): every
  ``docs/<page>.md``, ``docs/<page>.md#<anchor>`` and ``docs/<page>.md "<Heading>"``;
- in README.md and docs/*.md: every relative Markdown link ``[text](target)``, with its
  ``#anchor`` when it has one (``(#anchor)`` alone is the same page).

Anchors follow GitHub's rule: the heading's text lowercased, punctuation dropped except
``-``, ``_`` and spaces, spaces turned into ``-``, and ``-1``, ``-2``... on repeats.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CODE_DIRS = ("consumer_app", "devkit", "producer", "infra", "tests")
SKIP_PARTS = {"cdk.out", "node_modules", "__pycache__", ".venv", "build"}

_CODE_REF = re.compile(r"\bdocs/([\w.-]+?\.md)(?:#([\w-]+)|[ \t]+\"([^\"\n]+)\")?")
_MD_LINK = re.compile(r"\]\(([^()\s]+)\)")
_HEADING = re.compile(r"^ {0,3}(#{1,6})[ \t]+(.*?)(?:[ \t]+#+)?[ \t]*$")
_FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})")


def github_anchor(heading: str) -> str:
    """The anchor GitHub gives a heading (``What KCL 3.5.1 does`` -> ``what-kcl-351-does``)."""
    text = re.sub(r"!?\[([^\]]*)\]\([^)]*\)", r"\1", heading)  # a link shows its text only
    text = re.sub(r"[^\w\- ]", "", text.strip().lower())
    return text.replace(" ", "-")


def headings(markdown: str) -> list[str]:
    """ATX headings outside fenced code blocks (a ``# comment`` in a shell block is not one)."""
    found: list[str] = []
    fence: str | None = None
    for line in markdown.splitlines():
        m = _FENCE.match(line)
        if m:
            if fence is None:
                fence = m.group(1)[0] * 3
            elif m.group(1).startswith(fence):
                fence = None
            continue
        if fence is None and (h := _HEADING.match(line)):
            found.append(h.group(2))
    return found


def anchors(markdown: str) -> set[str]:
    seen: dict[str, int] = {}
    out: set[str] = set()
    for heading in headings(markdown):
        base = github_anchor(heading)
        n = seen.get(base, 0)
        seen[base] = n + 1
        out.add(base if n == 0 else f"{base}-{n}")
    return out


def _line(text: str, pos: int) -> int:
    return text.count("\n", 0, pos) + 1


def code_references(root: Path) -> Iterator[tuple[str, str, str | None, str | None]]:
    """(where, page, anchor, quoted heading) for each docs reference in the .py files."""
    for top in CODE_DIRS:
        for path in sorted((root / top).rglob("*.py")):
            if SKIP_PARTS.intersection(path.relative_to(root).parts):
                continue
            text = path.read_text(encoding="utf-8")
            for m in _CODE_REF.finditer(text):
                where = f"{path.relative_to(root)}:{_line(text, m.start())}"
                yield where, m.group(1), m.group(2), m.group(3)


def markdown_links(root: Path) -> Iterator[tuple[str, Path, str]]:
    """(where, the file the link is in, target) for each relative link in README and docs."""
    for path in [root / "README.md", *sorted((root / "docs").glob("*.md"))]:
        if not path.is_file():
            continue
        text = path.read_text(encoding="utf-8")
        for m in _MD_LINK.finditer(text):
            target = m.group(1)
            if re.match(r"[a-z][a-z0-9+.-]*:", target):  # http:, https:, mailto:
                continue
            yield f"{path.relative_to(root)}:{_line(text, m.start())}", path, target


def problems(root: Path) -> list[str]:
    """Every reference that does not resolve, with where it is and why."""
    root = root.resolve()
    found: list[str] = []
    cache: dict[Path, str] = {}

    def page_text(page: Path) -> str | None:
        if page not in cache:
            cache[page] = page.read_text(encoding="utf-8") if page.is_file() else ""
        return cache[page] if page.is_file() else None

    def check(where: str, page: Path, anchor: str | None, heading: str | None) -> None:
        text = page_text(page)
        shown = page.relative_to(root) if page.is_relative_to(root) else page
        if text is None:
            found.append(f"{where}: {shown} does not exist")
        elif anchor is not None and anchor not in anchors(text):
            found.append(f"{where}: {shown} has no heading with anchor #{anchor}")
        elif heading is not None and heading.lower() not in {h.lower() for h in headings(text)}:
            found.append(f"{where}: {shown} has no heading {heading!r}")

    for where, page, anchor, heading in code_references(root):
        check(where, root / "docs" / page, anchor, heading)
    for where, source, target in markdown_links(root):
        path, _, anchor = target.partition("#")
        page = (source.parent / path).resolve() if path else source
        if page.suffix == ".md" or not path:
            check(where, page, anchor or None, None)
        elif not page.exists():
            found.append(f"{where}: {target} does not exist")
    return found


def test_every_docs_reference_in_the_code_and_the_docs_resolves() -> None:
    assert problems(ROOT) == []


def test_the_scan_finds_the_references() -> None:
    """Guard against a scan that silently finds nothing (and so checks nothing)."""
    refs = list(code_references(ROOT))
    assert len(refs) >= 50, refs
    assert any(anchor for _, _, anchor, _ in refs)
    assert any(heading for _, _, _, heading in refs)
    links = list(markdown_links(ROOT))
    assert len(links) >= 50
    assert any("#" in target for _, _, target in links)


@pytest.mark.parametrize(("heading", "anchor"), [
    ("What KCL 3.5.1 does on a fresh lease table", "what-kcl-351-does-on-a-fresh-lease-table"),
    ("Security notes (cdk-nag)", "security-notes-cdk-nag"),
    ("The daemon's properties", "the-daemons-properties"),
    ("Stop, crash, restart", "stop-crash-restart"),
    ("Enhanced fan-out (`RETRIEVAL_MODE=FANOUT`)", "enhanced-fan-out-retrieval_modefanout"),
    ("See [Logs](running.md#logs)", "see-logs"),
])
def test_github_anchor_rule(heading: str, anchor: str) -> None:
    assert github_anchor(heading) == anchor


def test_headings_skip_code_blocks_and_repeats_are_numbered() -> None:
    assert anchors("# A\n## B\n```bash\n# not a heading\n```\n## B ##\n") == {"a", "b", "b-1"}


def test_the_checker_reports_broken_references(tmp_path: Path) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "page.md").write_text("# Page\n\n## Real heading\n\n```\n## In a code block\n```\n")
    d = "docs" + "/"  # spelled apart, so that this file's own scan does not read these as references
    (tmp_path / "consumer_app").mkdir()
    (tmp_path / "consumer_app" / "mod.py").write_text(
        f'"""Good: {d}page.md, {d}page.md#real-heading, {d}page.md "Real heading".\n'
        f"Broken: {d}gone.md, {d}page.md#in-a-code-block, {d}page.md#nope,\n"
        f'{d}page.md "No such heading".\n"""\n'
    )
    (tmp_path / "README.md").write_text(
        f"[ok]({d}page.md) [ok]({d}page.md#real-heading) [web](https://example.com/x.md)\n"
        f"[bad]({d}missing.md) [bad]({d}page.md#missing) [bad](src/none.py)\n"
    )
    (docs / "other.md").write_text("# Other\n\n[ok](page.md#page) [ok](#other) [bad](#elsewhere)\n")

    assert sorted(problems(tmp_path)) == sorted([
        f"consumer_app/mod.py:2: {d}gone.md does not exist",
        f"consumer_app/mod.py:2: {d}page.md has no heading with anchor #in-a-code-block",
        f"consumer_app/mod.py:2: {d}page.md has no heading with anchor #nope",
        f"consumer_app/mod.py:3: {d}page.md has no heading 'No such heading'",
        f"README.md:2: {d}missing.md does not exist",
        f"README.md:2: {d}page.md has no heading with anchor #missing",
        "README.md:2: src/none.py does not exist",
        f"{d}other.md:3: {d}other.md has no heading with anchor #elsewhere",
    ])
