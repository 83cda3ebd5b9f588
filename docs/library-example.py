import numpy as np
from grokmon import mean_pairwise_distance, memorization_index, paper_consistency, pathway_strings

rng = np.random.default_rng(0)
routing = rng.dirichlet(np.full(64, 0.3), size=(100, 16))  # [samples, layers, experts], token-mean softmax
print(pathway_strings(routing)[0][:40], mean_pairwise_distance(routing, cut=0.7))
c_i = paper_consistency(routing, router_weights=rng.normal(size=(16, 64, 32)))  # router rows [L, E, d]
loss = 1.5 + 3 * np.exp(-np.arange(10)[:, None] / rng.uniform(0.5, 4, 100))  # [checkpoints, samples] mean NLL
t_star = memorization_index(loss, epsilon=2.0, delta=0.05)  # checkpoint index per sample, -1 = never
print(c_i.mean(), np.bincount(t_star + 1))
