"""Pre-computed traffic: the daily rollup reports read instead of the heavy log table."""
