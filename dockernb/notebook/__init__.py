"""IPython magics and ipywidgets over dockernb.engine (L8); the only package importing IPython."""
