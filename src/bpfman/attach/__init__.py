"""One module per attach kind; each works from a program's fd alone."""
