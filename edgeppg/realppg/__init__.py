"""Real-PPG benchmark: labelled real recordings (sources), reference estimators, scoring (benchmark)."""
