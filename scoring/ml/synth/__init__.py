"""The synthetic generator: Kaggle's schema at any scale, with a known oracle."""
