"""Reference catalogs (models.dev, LiteLLM) as price sources for offers whose gateway gives none.

:mod:`~modelsync.reference.table` is the pure core (which offer gets which reference price);
:mod:`~modelsync.reference.service` the I/O shell (fetch on a schedule, persist, re-price).
"""
