"""The workflow's tables on hand-made routing where the answer is known."""

import numpy as np

from grokmon.tables import cross_domain_table


def one_hot_routing(experts, n_experts=3):
    """Routing float[n, 1, E]: sample i sends all weight to expert experts[i] (pathway string = that digit)."""
    routing = np.zeros((len(experts), 1, n_experts))
    routing[np.arange(len(experts)), 0, experts] = 1.0
    return routing


def test_cross_domain_table_within_and_across():
    # domain a: pathways "0", "0"; domain b: "1", "2". Within a: 0 edits; within b: 1; across: every pair 1 edit.
    table = cross_domain_table({"a": one_hot_routing([0, 0]), "b": one_hot_routing([1, 2])})
    assert table[["domain_a", "domain_b", "within"]].values.tolist() == [["a", "a", True], ["a", "b", False], ["b", "b", True]]
    assert table["distance"].tolist() == [0.0, 1.0, 1.0]
    assert table["distance_normalized"].tolist() == [0.0, 1.0, 1.0]
