"""Library core: route capture (one forward pass -> per-sample loss and routing weights) and the architecture registry
that says where each model keeps its routers, dense models read as virtual experts."""
