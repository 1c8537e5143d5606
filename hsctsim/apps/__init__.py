"""What users run: the command line and the scenario runner behind it.
"""
