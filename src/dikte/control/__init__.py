"""The control layer: which notebook has which runtime, and the rules over runtimes (admission,
limits, the reaper, accelerator grants). Talks to runtimes only through the backend contract."""
