"""Helpers the test modules share; a test module imports from these (and conftest, tiny_models), never from another
test module (tests/test_layout.py checks it). Imported as `helpers`, as tiny_models and conftest are: pytest's default
prepend import mode puts tests/ (no __init__.py) on sys.path.

formats: tiny files in the datasets' real formats; rows: hub-schema rows of the paper's datasets; hub_cache: a local
Hugging Face cache of tiny OLMoEs; configs: the config schema and the semantic-check assertion; paper_config:
config/olmoe.yaml and local stand-ins of its domains; stand_in: the end-to-end stand-in config and its checks;
dag: the jobs Snakemake plans, read from its DAG (dag_jobs: the script that builds it through Snakemake's API);
slurm_profile: the SLURM profile rendered under a given environment.
"""
