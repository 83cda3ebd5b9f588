"""Library core: the paper's claims put to the test: controls that tell a pathway signal from its artifacts, and one
verdict per claim."""
