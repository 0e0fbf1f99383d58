"""Tools a model may call: plugin specs, executors, built-in functions and the tool loop.

No database, models or Flask here: the services load a client's plugins into plain
:class:`app.tools.base.Tool` values (secrets unsealed) and hand them in.
"""
