"""Optimizers and regularization layers: SGD to Adam, batch normalization, dropout."""
