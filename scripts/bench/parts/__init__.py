"""The measurements of scripts/bench/measure.py, one module per part (PARTS): pipeline, server, cold
(with fake_runtime), quality, lambda_zip; common holds the settings and helpers they share."""
