"""Ways between a notebook's page and its runtime besides the cell queue: the runtime channel
(code in the runtime asking the tab), JavaScript callbacks, served ports, terminals, the Files
panel. Each reaches the runtime through its backend."""
