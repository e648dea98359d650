"""Reading the Kaggle files (or the generator's), validating them into the typed parquet
cache, and one applicant's stored history."""
