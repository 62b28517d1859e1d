"""Users of the platform: people with a role in a department."""
