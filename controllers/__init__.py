"""Controllers optimised through the differentiable simulators: trainers, recipes, MPC, LQR, trajectory optimisation."""
