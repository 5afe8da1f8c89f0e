"""Dialogs of the tray app: settings and people."""
