"""The model matrix: application features and history aggregates in one code path, and the
feature families that explanations and reasons are told in."""
