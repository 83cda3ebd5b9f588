"""Library core: the paper's measurements computed from arrays (memorization t*, generalization t#, pathway distance
and consistency, group matching, correlation); each checks its inputs, none reads or writes a file."""
