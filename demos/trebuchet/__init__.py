"""The differentiable-trebuchet demo (Zygote paper / FluxML model-zoo), reproduced on diffsim."""
