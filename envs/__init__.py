"""Gymnasium environments over the diffsim simulators (issue: Gymnasium environments)."""
