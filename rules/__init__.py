"""tflint's built-in rules, registered through the ``tflint.rules`` entry point.

One rule per module; a rule's documentation is its class docstring.  Data that
changes with TensorFlow releases lives in ``data/`` next to the rules.
"""
