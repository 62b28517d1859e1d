"""The demo city: its catalog, users, machine clients, back-dated requests and department sources.

Nothing imports this package; it uses every other one to stand up a city a newcomer can try.
"""
