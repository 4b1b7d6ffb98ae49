"""Evidence: pure functions of hashed, team-submitted inputs, returning typed results, tables and charts.

Every function here treats its input files as untrusted: sizes are bounded, nothing is unpickled, and a
malformed file raises :class:`workbench.errors.EvidenceError` naming the file, the place and what was expected.
"""
