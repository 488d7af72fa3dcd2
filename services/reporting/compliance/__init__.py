"""Read models grouped by the question they answer: is each cell meeting, and who attends."""
