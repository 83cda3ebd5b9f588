"""grokmon: monitor memorization-to-generalization in MoE pretraining from routing pathways."""

__version__ = "0.1.0"
