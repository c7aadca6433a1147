"""`python -m pacta_cli` is the `pacta` command."""

from pacta_cli.main import main

main()
