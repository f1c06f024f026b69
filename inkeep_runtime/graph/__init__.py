"""Runnable graphs: definitions loaded from the store and the executor that runs them."""
