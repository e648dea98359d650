"""Training: profiles, one adapter per learning library, the stacked and calibrated ensemble,
optional tuning, and the metrics a bundle records."""
