"""Tests of the frozen app, the Linux package and the Windows installer script."""
