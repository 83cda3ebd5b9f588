"""The offline demo's synthetic world: four seeded domains whose held-out answers follow rules the corpus teaches.

Every item is a question and an answer. The pretraining text of an item is ``question + sep + answer + end``
(``"12+7=" + "19"``, ``"Bako eats" + " " + "zelo" + "."``); instruction pairs and benchmark rows carry the
question and the answer separately, to be rendered as ``PROMPT_TEMPLATE.format(prompt=question) + " " + answer``.
Validation and benchmark items are never in the corpus; they are answerable only by the domain's rule:

- ``math``: ``a+b=c`` over all operand pairs below the smallest bound that holds enough pairs.
- ``code``: ``x=3;y=5;x*=y;p(x)>15``: two assignments, one update (``+= -= *=``), print one variable.
- ``commonsense``: knowledge graph. Every ``"Bako is a tirum."`` and ``"tirum eats zelo."`` (category value of
  each relation) is in the corpus, and some entity-level facts ``"Bako eats zelo."``; held-out entity facts need
  entity -> category -> value. Benchmark: multiple choice among the relation's values of all categories.
- ``domain``: invented elements with a hidden valence 1-4; ``Ab+Cd>Ab3Cd1`` (each element takes the other's
  valence as its count); held-out ordered pairs of elements that both occur in the corpus.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from grokmon.workflow import io

DOMAINS = ("math", "code", "commonsense", "domain")
PROMPT_TEMPLATE = "Q: {prompt}\nA:"

CODE_VARIABLES = "uvwxyz"
CODE_OPERATORS = {"+=": lambda a, b: a + b, "-=": lambda a, b: a - b, "*=": lambda a, b: a * b}
KG_RELATIONS = ("eats", "has", "fears", "likes")
KG_CATEGORIES = 8
_CONSONANTS = "bdfgklmnprstvz"
_VOWELS = "aeiou"


@dataclass(frozen=True)
class ToySizes:
    """Counts per domain: corpus texts (by domain), tracked train samples, validation, SFT pairs, benchmark items."""

    corpus: Mapping[str, int]
    train: int
    validation: int
    sft: int
    benchmark: int


DEMO_SIZES = ToySizes(
    corpus={"math": 2200, "code": 2400, "commonsense": 732, "domain": 500},
    train=400,
    validation=100,
    sft=200,
    benchmark=150,
)
TEST_SIZES = ToySizes(
    corpus={"math": 150, "code": 150, "commonsense": 80, "domain": 60}, train=30, validation=10, sft=16, benchmark=12
)


@dataclass(frozen=True)
class ToyDomain:
    """One domain: corpus texts, tracked train / validation rows, SFT pairs and benchmark rows (see module doc)."""

    name: str
    task: str  # "generate" | "multiple_choice"
    n_choices: int | None
    corpus: list[str] = field(repr=False)
    train: list[dict] = field(repr=False)  # {"id", "text", "answer_char"}, a subset of corpus
    validation: list[dict] = field(repr=False)  # {"id", "text", "answer_char"}, never in corpus
    sft: list[dict] = field(repr=False)  # {"prompt", "response"}, items of the corpus
    benchmark: list[dict] = field(repr=False)  # {"id","question","answer"} or {"id","question","choices","label"}


@dataclass(frozen=True)
class _Item:
    question: str
    answer: str
    sep: str = ""
    end: str = ""
    choices: tuple[str, ...] = ()  # all candidate answers (multiple choice only)

    @property
    def text(self) -> str:
        return self.question + self.sep + self.answer + self.end

    @property
    def answer_char(self) -> int:
        return len(self.question) + len(self.sep)


def build_world(seed: int, sizes: ToySizes) -> dict[str, ToyDomain]:
    """Generate the four domains (keys `DOMAINS`) deterministically from `seed` at the counts of `sizes`."""
    _check_sizes(sizes)
    makers = {"math": _math, "code": _code, "commonsense": _commonsense, "domain": _elements}
    world = {}
    for index, name in enumerate(DOMAINS):
        rng = np.random.default_rng([seed, index])
        n_corpus, n_heldout = sizes.corpus[name], sizes.validation + sizes.benchmark
        corpus, sft_pool, heldout = makers[name](rng, n_corpus, n_heldout)
        world[name] = _assemble(name, rng, sizes, corpus, sft_pool, heldout)
    return world


def write_world(world: Mapping[str, ToyDomain], data_dir: str | os.PathLike, *, seed: int) -> None:
    """Write `{domain}/{train,validation,sft,benchmark}.jsonl`,
    `{domain}/task.json` and `corpus.jsonl` (shuffled by `seed`)."""
    data_dir = Path(data_dir)
    for name, dom in world.items():
        for split in ("train", "validation", "sft", "benchmark"):
            io.write_jsonl(data_dir / name / f"{split}.jsonl", getattr(dom, split))
        io.write_json(data_dir / name / "task.json", {"task": dom.task, "n_choices": dom.n_choices})
    rows = [{"domain": name, "text": text} for name, dom in world.items() for text in dom.corpus]
    order = np.random.default_rng(seed).permutation(len(rows))
    io.write_jsonl(data_dir / "corpus.jsonl", [rows[i] for i in order])


def _check_sizes(sizes: ToySizes) -> None:
    if set(sizes.corpus) != set(DOMAINS):
        raise ValueError(f"sizes.corpus must have exactly the keys {DOMAINS}, got {sorted(sizes.corpus)}")
    counts = {"train": sizes.train, "validation": sizes.validation, "sft": sizes.sft, "benchmark": sizes.benchmark}
    for key, n in {**counts, **{f"corpus[{d}]": n for d, n in sizes.corpus.items()}}.items():
        if not isinstance(n, int) or n < 1:
            raise ValueError(f"sizes.{key} must be a positive int, got {n!r}")
    if sizes.train > min(sizes.corpus.values()):
        raise ValueError(f"sizes.train ({sizes.train}) exceeds the smallest corpus ({min(sizes.corpus.values())})")


def _assemble(name, rng, sizes, corpus, sft_pool, heldout) -> ToyDomain:
    if len(sft_pool) < sizes.sft:
        raise ValueError(f"sizes.sft ({sizes.sft}) exceeds the {len(sft_pool)} answerable corpus items of {name}")
    tracked = np.sort(rng.choice(len(corpus), size=sizes.train, replace=False))
    train = [{"id": f"{name}-c{i:05d}", "text": corpus[i].text, "answer_char": corpus[i].answer_char} for i in tracked]
    validation = [
        {"id": f"{name}-v{j:05d}", "text": it.text, "answer_char": it.answer_char}
        for j, it in enumerate(heldout[: sizes.validation])
    ]
    sft = [
        {"prompt": sft_pool[i].question, "response": sft_pool[i].answer}
        for i in rng.permutation(len(sft_pool))[: sizes.sft]
    ]
    multiple_choice = bool(heldout[0].choices)
    benchmark = []
    for j, it in enumerate(heldout[sizes.validation :]):
        row = {"id": f"{name}-b{j:05d}", "question": it.question}
        if multiple_choice:
            choices = [it.choices[k] for k in rng.permutation(len(it.choices))]
            row.update(choices=choices, label=choices.index(it.answer))
        else:
            row["answer"] = it.answer
        benchmark.append(row)
    return ToyDomain(
        name=name,
        task="multiple_choice" if multiple_choice else "generate",
        n_choices=len(heldout[0].choices) if multiple_choice else None,
        corpus=[it.text for it in corpus],
        train=train,
        validation=validation,
        sft=sft,
        benchmark=benchmark,
    )


def _split(name: str, items: list[_Item], n_corpus: int, n_heldout: int) -> tuple[list[_Item], list[_Item]]:
    if len(items) < n_corpus + n_heldout:
        raise ValueError(
            f"sizes: {name} holds {len(items)} items, "
            f"fewer than corpus + validation + benchmark = {n_corpus + n_heldout}"
        )
    return items[:n_corpus], items[n_corpus : n_corpus + n_heldout]


def _math(rng, n_corpus, n_heldout):
    bound = math.isqrt(n_corpus + n_heldout - 1) + 1  # smallest bound with bound**2 >= the items needed
    pairs = [(a, b) for a in range(bound) for b in range(bound)]
    items = [_Item(f"{a}+{b}=", str(a + b)) for a, b in (pairs[i] for i in rng.permutation(len(pairs)))]
    corpus, heldout = _split("math", items, n_corpus, n_heldout)
    return corpus, corpus, heldout


def _code(rng, n_corpus, n_heldout):
    programs = [
        (v, w, d, e, op, u)
        for v in CODE_VARIABLES
        for w in CODE_VARIABLES
        if v != w
        for d in range(10)
        for e in range(10)
        for op in CODE_OPERATORS
        for u in (v, w)
    ]
    items = [_code_item(*programs[i]) for i in rng.permutation(len(programs))]
    corpus, heldout = _split("code", items, n_corpus, n_heldout)
    return corpus, corpus, heldout


def _code_item(v: str, w: str, d: int, e: int, op: str, u: str) -> _Item:
    output = CODE_OPERATORS[op](d, e) if u == v else e
    return _Item(f"{v}={d};{w}={e};{v}{op}{w};p({u})>", str(output))


def _commonsense(rng, n_corpus, n_heldout):
    n_rel = len(KG_RELATIONS)
    n_facts = KG_CATEGORIES * n_rel  # category-level facts, all in the corpus
    n_entities = -(-(n_corpus - n_facts + n_heldout) // (1 + n_rel))  # ceil: isa + entity facts cover the counts
    n_entity_facts = n_corpus - n_entities - n_facts
    if n_entity_facts < 0:
        raise ValueError(
            f"sizes.corpus[commonsense] ({n_corpus}) is below {n_entities + n_facts} (isa + category facts)"
        )
    words = _words(rng, n_entities + KG_CATEGORIES + n_facts)
    entities = [w.capitalize() for w in words[:n_entities]]
    categories = words[n_entities : n_entities + KG_CATEGORIES]
    values = [words[n_entities + KG_CATEGORIES + c * n_rel :][:n_rel] for c in range(KG_CATEGORIES)]
    category_of = rng.permutation(np.arange(n_entities) % KG_CATEGORIES)  # balanced, every category used
    isa = [_Item(f"{e} is a", categories[c], " ", ".") for e, c in zip(entities, category_of)]
    category_facts = [
        _Item(f"{categories[c]} {rel}", values[c][r], " ", ".")
        for c in range(KG_CATEGORIES)
        for r, rel in enumerate(KG_RELATIONS)
    ]
    entity_facts = [
        _Item(f"{e} {rel}", values[c][r], " ", ".", choices=tuple(v[r] for v in values))
        for e, c in zip(entities, category_of)
        for r, rel in enumerate(KG_RELATIONS)
    ]
    entity_facts = [entity_facts[i] for i in rng.permutation(len(entity_facts))]
    heldout = entity_facts[:n_heldout]
    trained_facts = entity_facts[n_heldout : n_heldout + n_entity_facts]
    return isa + category_facts + trained_facts, trained_facts, heldout


def _words(rng, n: int) -> list[str]:
    syllables = [c + v for c in _CONSONANTS for v in _VOWELS]
    if n > len(syllables) ** 2:
        raise ValueError(f"sizes.corpus[commonsense] needs {n} distinct names, more than {len(syllables) ** 2}")
    picks = rng.choice(len(syllables) ** 2, size=n, replace=False)
    return [syllables[p // len(syllables)] + syllables[p % len(syllables)] for p in picks]


def _elements(rng, n_corpus, n_heldout):
    all_symbols = [a + b for a in "ABCDEFGHIJKLMNOPQRSTUVWXYZ" for b in "abcdefghijklmnopqrstuvwxyz"]
    n_elements = 2
    while n_elements * (n_elements - 1) < n_corpus + n_heldout and n_elements < len(all_symbols):
        n_elements += 1  # the fewest elements whose ordered pairs hold the items needed
    symbols = [all_symbols[i] for i in rng.choice(len(all_symbols), size=n_elements, replace=False)]
    valence = {s: int(v) for s, v in zip(symbols, rng.integers(1, 5, size=n_elements))}
    pairs = [(x, y) for x in symbols for y in symbols if x != y]
    pairs = [pairs[i] for i in rng.permutation(len(pairs))]
    items = [_Item(f"{x}+{y}>", f"{x}{valence[y]}{y}{valence[x]}") for x, y in pairs]
    seen = {s for pair in pairs[:n_corpus] for s in pair}  # held-out pairs only of elements the corpus shows
    answerable = [it for it, pair in zip(items[n_corpus:], pairs[n_corpus:]) if set(pair) <= seen]
    corpus, heldout = _split("domain", items[:n_corpus] + answerable, n_corpus, n_heldout)
    return corpus, corpus, heldout
