"""Controllers optimised through the differentiable simulators (issue: controllers)."""
