"""Serving: verified bundles, the compiled forest, prediction and exact explanations."""
