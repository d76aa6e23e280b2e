"""The jupyter_server extension behind the JupyterLab sidebar (L8)."""
