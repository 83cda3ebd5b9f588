"""Library core: atomic files (temp path, then rename) and .npz arrays: what the core writes (a saved RouteCapture,
the monitor's CSV header) and what the workflow's artifact writers build on."""
