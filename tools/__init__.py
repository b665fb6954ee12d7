"""Developer tools for the checkout (test set-up, load test, fixture making); not installed."""
