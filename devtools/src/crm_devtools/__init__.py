"""What `make run` and developers use: demo users and data, the local suite launcher, demo tokens.
Nothing here runs in production."""
