"""Evaluate and train in the same sandboxes: tasks from verified samples, an outcome-based checker, rewards, a gym."""
