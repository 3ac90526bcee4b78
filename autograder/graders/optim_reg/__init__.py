"""Hidden graders of the ``optim_reg`` assignment."""
