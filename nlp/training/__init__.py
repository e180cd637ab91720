"""Training and evaluation of the mood model (see train_mood.py and data/README.md)."""
