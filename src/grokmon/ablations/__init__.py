"""Library core: the paper's appendix experiments as computations: threshold sweeps, the theory experiment, router vs
expert parameter norms."""
