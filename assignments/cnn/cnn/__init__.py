"""Week 5: convolutional networks (the `cnn` assignment)."""
