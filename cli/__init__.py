"""Command-line front ends of the engine; each module registers one or more sub-commands on main.py's parser."""
