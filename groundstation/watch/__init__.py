"""``paleblue watch``: a terminal view of a ground station through its API (model, client, app)."""
