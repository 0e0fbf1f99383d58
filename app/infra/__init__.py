"""Infrastructure: workspace rendering, the terraform runner, plan summaries, locks, kubernetes."""
