"""Open notebooks: the server's copy of each document, its viewers, its execution queue, widgets,
edit journal and snapshots. Knows nothing of where or how its runtime runs (see dikte.control)."""
