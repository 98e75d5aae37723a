"""A user's own plugin model, registered the way the README says, for the plugin-base tests."""
