"""CredScope's ML core: data, features, training, bundles, prediction and explanations.

Pure Python over DataFrames and arrays. Nothing in this package may import Django, so it can be
used from a notebook, a benchmark or a Celery worker alike (a test enforces this).
"""
