"""Service functions: the one place that changes data. Blueprints and CLI stay thin."""
