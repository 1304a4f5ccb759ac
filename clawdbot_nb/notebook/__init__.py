"""The IPython/Jupyter front-end: extension entry points, magics, widgets, rich display."""
