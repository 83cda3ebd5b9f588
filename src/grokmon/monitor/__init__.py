"""Library core: the live pathway monitor that plugs into a training loop or a transformers Trainer."""
