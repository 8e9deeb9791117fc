"""Files → articles: which files of the content folder are articles, and
each file read into a validated ``Article`` (pure, except the two
file-system edges, ``folder`` and ``loader``)."""
