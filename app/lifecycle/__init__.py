"""The member lifecycle: RFM, health score, the MBG/NBD model, stages and their history.

* ``models``: the per-member figures, the stage history, the model fits;
* ``service``: the refresh (SQL aggregates, NumPy, bulk writes) and ``stage.changed`` events;
* ``health``, ``stages``, ``model``: pure functions over NumPy arrays;
* ``settings``, ``signals``: the tunable numbers and the hooks for other features' data.

See ``docs/lifecycle.md``.
"""
