"""Tiny rows of the paper's datasets in their hub schemas (datasets.md), shared by the loader, task and config tests."""

# blester125/mediawiki-dolma: wikibooks and wikiversity pages, two of them titled "Organic Chemistry/..."
MEDIAWIKI = [
    {
        "id": "0-11",
        "text": "Organic Chemistry/Alkanes\nAlkanes are saturated.",
        "source": "wiki/dump/wikibooks",
        "added": "2024",
        "created": "2010",
        "metadata": {
            "license": "CC-BY-SA",
            "authors": [["Ann", 1], ["Bo", 2]],
            "url": "u1",
            "wiki": "wikibooks",
            "namespace": "0",
            "title": "Organic Chemistry/Alkanes",
        },
    },
    {
        "id": "0-12",
        "text": "Cooking/Bread\nFlour and water.",
        "source": "wiki/dump/wikibooks",
        "added": "2024",
        "created": "2011",
        "metadata": {
            "license": "CC-BY-SA",
            "authors": [["Cy", 3]],
            "url": "u2",
            "wiki": "wikibooks",
            "namespace": "0",
            "title": "Cooking/Bread",
        },
    },
    {
        "id": "0-13",
        "text": "See the organic chemistry course.",
        "source": "wiki/dump/wikiversity",
        "added": "2024",
        "created": "2012",
        "metadata": {
            "license": "CC-BY-SA",
            "authors": [],
            "url": "u3",
            "wiki": "wikiversity",
            "namespace": "0",
            "title": "Chemistry",
        },
    },
    {
        "id": "0-14",
        "text": "Organic Chemistry/Alkenes\nAlkenes have a double bond.",
        "source": "wiki/dump/wikibooks",
        "added": "2024",
        "created": "2013",
        "metadata": {
            "license": "CC-BY-SA",
            "authors": [["Ann", 1]],
            "url": "u4",
            "wiki": "wikibooks",
            "namespace": "0",
            "title": "Organic Chemistry/Alkenes",
        },
    },
]
# tau/commonsense_qa: three questions with five lettered choices, answers A, B, C
CSQA = [
    {
        "id": f"q{i}",
        "question": f"Where is the cat {i}?",
        "question_concept": "cat",
        "choices": {"label": list("ABCDE"), "text": ["mat", "sea", "sky", "oven", "mud"]},
        "answerKey": "ABCDE"[i],
    }
    for i in range(3)
]
# cais/mmlu college_chemistry: three questions with four choices, answers 0, 1, 2
MMLU_CHEMISTRY = [
    {
        "question": f"Which gas {i}?",
        "subject": "college_chemistry",
        "choices": ["H2", "O2", "N2", "He"],
        "answer": i,
    }
    for i in range(3)
]
