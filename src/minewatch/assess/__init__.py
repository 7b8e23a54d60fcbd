"""Where promise and imagery differ: thresholds and rules that raise anomalies."""
