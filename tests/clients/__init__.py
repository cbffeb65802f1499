"""Small streaming clients for the checks' tests: correct ones, and ones with one deliberate
cleanup bug each (named by the module). Each yields the text deltas of a chat stream."""
