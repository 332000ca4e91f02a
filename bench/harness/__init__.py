"""The pieces of bench/run.py: environment, server processes, one module per
workload family, the results model and its Markdown and PNG renderings."""
