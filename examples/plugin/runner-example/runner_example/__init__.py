"""An example runner plugin: the ``line_in_file`` resource type and the ``canary`` strategy."""
