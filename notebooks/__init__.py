"""msp-pynq's notebooks, as the package ``msp_pynq.notebooks`` once installed.

setup.py maps ``msp_pynq.notebooks`` onto this folder and registers it in PYNQ's
``pynq.notebooks`` entry-point group, so that on a board ``pynq get-notebooks msp-pynq``
copies the notebooks (``*.ipynb`` and ``README.md``; PYNQ skips this file) into the Jupyter
folder. Nothing here runs code: the notebooks' logic lives in tested ``msp_pynq`` modules.
"""
