"""HTTP blueprints: chat (client hosts + /api/v0), health, and later admin and api."""
