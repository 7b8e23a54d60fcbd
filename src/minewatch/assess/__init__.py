"""Where promise and imagery differ: one mine's evidence, the rules that judge it, the anomalies.

`evidence.build` gathers what the rules need once; `judge.judge` runs every rule of
`judge.RULES` (one shape: evidence, right, plan, thresholds, settings -> RuleResult), then
the confidence hold-back.
"""
__all__ = ["anomaly", "confidence", "disturbance", "disturbance_rules", "evidence", "judge", "masks",
           "planchecks", "reference", "rules", "season", "thresholds"]
