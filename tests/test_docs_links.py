"""The docs are whole and linked: every relative link resolves inside the repository, and the README stays short.

Links are markdown inline links and images (`[text](target)`, `![alt](target)`) and reference definitions
(`[name]: target`) outside fenced code blocks and inline code. Links with a scheme (`https:`, `mailto:`) are not
followed. A `#anchor` is checked against the target file's headings, slugged the way GitHub does it (lowercase,
punctuation dropped, each space a hyphen, `-1`, `-2` for repeats); a bare `#anchor` points into the same file.
"""

import re
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
DOC_FILES = sorted({REPO / "README.md", REPO / "config/README.md", *(REPO / "docs").glob("*.md")})
README_MAX_LINES = 300
MAX_LINE_CHARS = 120

FENCE = re.compile(r"^ {0,3}(```|~~~).*?^ {0,3}\1[^\n]*$", re.M | re.S)
INLINE_CODE = re.compile(r"(`+)(?!`).*?(?<!`)\1(?!`)", re.S)
TARGET = r"\(\s*<?([^()\s<>]*(?:\([^()\s]*\)[^()\s<>]*)*)>?(?:\s+\"[^\"]*\")?\s*\)"
IMAGE = re.compile(r"!\[[^\[\]]*\]" + TARGET)
LINK = re.compile(r"\[[^\[\]]*\]" + TARGET)
REFERENCE = re.compile(r"^ {0,3}\[[^\]]+\]:\s*<?(\S+?)>?(?:\s+.*)?$", re.M)
HEADING = re.compile(r"^ {0,3}(#{1,6})\s+(.*?)\s*#*\s*$", re.M)
SCHEME = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.-]*:")


def _blank(match: re.Match) -> str:
    """The match replaced by spaces, newlines kept, so that offsets and line numbers stay."""
    return re.sub(r"[^\n]", " ", match.group(0))


def prose(text: str) -> str:
    """Markdown text with fenced code blocks and inline code blanked out."""
    return INLINE_CODE.sub(_blank, FENCE.sub(_blank, text))


def extract_links(text: str) -> list[tuple[int, str]]:
    """(line number, target) of every inline link, image and reference definition outside code."""
    text = prose(text)
    found = [(m.start(1), m.group(1)) for m in IMAGE.finditer(text)]
    text = IMAGE.sub(lambda m: "x" * len(m.group(0)), text)  # an image inside a link's text is its text
    found += [(m.start(1), m.group(1)) for m in LINK.finditer(text)]
    found += [(m.start(1), m.group(1)) for m in REFERENCE.finditer(text)]
    return sorted((text.count("\n", 0, start) + 1, target) for start, target in found)


def slug(heading: str) -> str:
    """GitHub's anchor of a heading's text."""
    text = re.sub(r"!?\[([^\]]*)\]\([^)]*\)", r"\1", heading)  # a link in a heading anchors by its text
    text = re.sub(r"[^\w\- ]", "", text.strip().lower())
    return text.replace(" ", "-")


def anchors(text: str) -> set[str]:
    """Every heading anchor of a markdown text (repeats get -1, -2, ... as on GitHub)."""
    seen: dict[str, int] = {}
    out = set()
    for match in HEADING.finditer(FENCE.sub(_blank, text)):
        base = slug(match.group(2))
        count = seen.get(base, 0)
        seen[base] = count + 1
        out.add(base if count == 0 else f"{base}-{count}")
    return out


def link_problem(source: Path, target: str, repo: Path = REPO) -> str | None:
    """Why a link target of `source` is broken, or None when it resolves inside `repo`."""
    if SCHEME.match(target):
        return None
    path, _, anchor = target.partition("#")
    if path.startswith("/"):
        return "absolute path"
    resolved = (source.parent / path).resolve() if path else source.resolve()
    if not resolved.is_relative_to(repo.resolve()):
        return "escapes the repository"
    if not resolved.exists():
        return "no such file"
    if anchor and resolved.suffix == ".md" and anchor not in anchors(resolved.read_text()):
        return f"no heading #{anchor}"
    return None


def test_extractor_finds_links_and_images_but_not_code():
    text = "\n".join(
        [
            "# Title",
            'See [the map](docs/paper-map.md#stages) and ![a figure](docs/images/x.png "caption").',
            "Code: `[not](a-link.md)` stays code, and [a page](https://example.org) has a scheme.",
            "```bash",
            "echo '[inside](fence.md)'",
            "```",
            "[ref]: config/README.md",
            "[nested ![img](i.png)](outer.md)",
        ]
    )
    assert extract_links(text) == [
        (2, "docs/images/x.png"),
        (2, "docs/paper-map.md#stages"),
        (3, "https://example.org"),
        (7, "config/README.md"),
        (8, "i.png"),
        (8, "outer.md"),
    ]


def test_slugs_follow_github():
    assert slug("Paper figures and tables → rule → output") == "paper-figures-and-tables--rule--output"
    assert slug("Package modules (one job each)") == "package-modules-one-job-each"
    assert slug("Three seeds (`make demo-seeds`)") == "three-seeds-make-demo-seeds"
    assert anchors("# A\n## B\n```\n# not a heading\n```\n## B\n") == {"a", "b", "b-1"}


def test_link_checker_rejects_broken_escaping_and_absolute_links(tmp_path):
    (tmp_path / "docs").mkdir()
    page = tmp_path / "docs" / "page.md"
    page.write_text("# Page\n\n## A section\n")
    (tmp_path / "README.md").write_text("# Readme\n")
    assert link_problem(page, "../README.md", tmp_path) is None
    assert link_problem(page, "page.md#a-section", tmp_path) is None
    assert link_problem(page, "#a-section", tmp_path) is None
    assert link_problem(page, "https://example.org/x", tmp_path) is None
    assert link_problem(page, "missing.md", tmp_path) == "no such file"
    assert link_problem(page, "page.md#no-such-section", tmp_path) == "no heading #no-such-section"
    assert link_problem(page, "../../outside.md", tmp_path) == "escapes the repository"
    assert link_problem(page, "/etc/hostname", tmp_path) == "absolute path"


def test_the_checked_files_include_the_readme_and_the_docs_pages():
    names = {str(p.relative_to(REPO)) for p in DOC_FILES}
    assert {"README.md", "config/README.md", "docs/paper-map.md", "docs/monitor.md"} <= names
    assert {"docs/reproducing-the-paper.md", "docs/slurm.md", "docs/verdicts.md"} <= names


@pytest.mark.parametrize("doc", DOC_FILES, ids=lambda p: str(p.relative_to(REPO)))
def test_every_relative_link_resolves_inside_the_repository(doc):
    problems = [
        f"{doc.relative_to(REPO)}:{line}: {target}: {why}"
        for line, target in extract_links(doc.read_text())
        if (why := link_problem(doc, target))
    ]
    assert not problems, "\n".join(problems)


def test_architecture_links_nowhere_outside_the_repository():
    text = (REPO / "docs/ARCHITECTURE.md").read_text()
    assert not [target for _, target in extract_links(text) if SCHEME.match(target)]
    assert "../shared" not in text and "/work/" not in text


def test_readme_links_every_docs_page():
    linked = {target.partition("#")[0] for _, target in extract_links((REPO / "README.md").read_text())}
    pages = {str(p.relative_to(REPO)) for p in (REPO / "docs").glob("*.md")}
    assert pages <= linked, sorted(pages - linked)


def test_readme_is_short_with_short_lines():
    lines = (REPO / "README.md").read_text().splitlines()
    assert len(lines) < README_MAX_LINES
    long = [f"{i}: {len(line)}" for i, line in enumerate(lines, 1) if len(line) > MAX_LINE_CHARS]
    assert not long, long
