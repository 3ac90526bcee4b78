"""Hidden graders of the ``cnn`` assignment."""
