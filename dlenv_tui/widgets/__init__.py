"""Reusable widgets: the stage bar, a bounded log pane, a step list, the check table, validated fields."""
