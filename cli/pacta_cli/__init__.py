"""pacta: the command-line tool for Pacta's HTTP APIs, in the spirit of Alertmanager's amtool."""
